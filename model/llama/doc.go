// Package llama is the decoder of the Llama family and its close relatives:
// Llama 2/3, TinyLlama, SmolLM and Mistral (model_type "llama", "mistral"),
// Qwen2 (q/k/v biases) and Qwen3 (per-head q/k RMSNorm, explicit
// head_dim). They differ only by switches in Config; the layer code is one.
//
// Per layer, as Hugging Face's LlamaDecoderLayer:
//
//	h = x + o_proj(attn(rope(q_norm(q_proj(n))), rope(k_norm(k_proj(n))), v_proj(n))),  n = input_layernorm(x)
//	y = h + down_proj(silu(gate_proj(m))·up_proj(m)),                                      m = post_attention_layernorm(h)
//
// with logits = lm_head(norm(y_last)) (lm_head tied to embed_tokens when
// tie_word_embeddings). RoPE is Hugging Face's rotate_half layout; GGUF
// files of architecture "llama" store q/k rows permuted for the
// interleaved layout, and the loader permutes them back.
//
// For training the model is a model.Trainable: ForwardLoss saves every
// layer's activations (or, with SetGradCheckpoint, only each layer's input)
// and Backward (backward.go) walks them in reverse, passing gradients
// through the frozen weights to the LoRA wrappers in the slots.
package llama
