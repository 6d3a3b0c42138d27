// Package generate turns a causal language model into text: samplers
// (greedy, temperature, top-k, top-p, min-p, repetition penalty, applied in
// the order of Hugging Face transformers' default logits processors), and a
// generation loop that prefills prompts into a KV cache, decodes token by
// token for one or several rows at once, stops at EOS ids, stop strings, a
// token budget or the context limit, and streams text as it arrives.
//
// It drives a model.CausalLM and sees text only through a TextDecoder, so it
// knows no architecture and no tokenizer format.
package generate
