// Package gpt2 is OpenAI's GPT-2 (Hugging Face GPT2LMHeadModel): learned
// absolute positions, pre-norm LayerNorm blocks, a fused q|k|v projection
// (c_attn), GELU (activation_function: tanh for "gelu_new" and
// "gelu_pytorch_tanh", exact erf for "gelu") and a head tied to the token
// embedding:
//
//	x = wte[ids] + wpe[pos]
//	x += attn.c_proj(attn(split(attn.c_attn(ln_1(x)))))
//	x += mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))
//	logits = ln_f(x)·wteᵀ
//
// With tie_word_embeddings false the head is lm_head.weight (V, C) of its
// own: logits = ln_f(x)·lm_headᵀ. In a GGUF file an output.weight that is
// not an exact copy of token_embd.weight is such a head.
//
// Checkpoints store the projections as Conv1D weights (In, Out); they are
// transposed to (Out, In) at load and their slots marked FanInFanOut.
//
// For training the model is a model.Trainable: ForwardLoss and Backward
// (backward.go, the forward in reverse), with optional gradient
// checkpointing (SetGradCheckpoint).
package gpt2
