// Package bert is the BERT encoder (Devlin et al. 2018) with its
// masked-LM head, as Hugging Face's BertForMaskedLM: absolute positions,
// token types, post-norm blocks and exact (erf) GELU:
//
//	x = LN(word[ids] + pos[p] + type[tt])
//	x = LN(x + attention.output.dense(attn(q, k, v)))        bidirectional, padded keys masked
//	x = LN(x + output.dense(gelu(intermediate.dense(x))))
//	scores = LN(gelu(transform.dense(x)))·wordᵀ + cls.predictions.bias
//
// From a GGUF file (llama.cpp's "bert" architecture and tensor names) it
// loads as the encoder alone: the converter drops the MLM head.
//
// Classification and token-classification heads can be added beside the
// MLM head later; they share Encode.
package bert
