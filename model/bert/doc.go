// Package bert is the BERT encoder (Devlin et al. 2018) with its
// masked-LM head, as Hugging Face's BertForMaskedLM: absolute positions,
// token types, post-norm blocks and GELU (hidden_act: exact erf for
// "gelu", the tanh form for "gelu_new" and "gelu_pytorch_tanh"):
//
//	x = LN(word[ids] + pos[p] + type[tt])
//	x = LN(x + attention.output.dense(attn(q, k, v)))        bidirectional, padded keys masked
//	x = LN(x + output.dense(gelu(intermediate.dense(x))))
//	scores = LN(gelu(transform.dense(x)))·wordᵀ + cls.predictions.bias
//
// With tie_word_embeddings false the decoder has its own weight,
// cls.predictions.decoder.weight, in place of word.
//
// From a BertModel checkpoint (tensor names without the "bert." prefix,
// as sentence-transformers save them) or a GGUF file (llama.cpp's "bert"
// architecture and tensor names) it loads as the encoder alone: neither
// holds the MLM head.
//
// Classification and token-classification heads can be added beside the
// MLM head later; they share Encode.
package bert
