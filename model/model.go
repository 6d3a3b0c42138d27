package model

import "github.com/loftml/loft/nn"

// CausalLM is a decoder-only language model as generation drives it.
// Architectures in model/<arch> implement it without importing this package.
type CausalLM interface {
	// VocabSize is the number of logits per position.
	VocabSize() int
	// ContextLength is the most positions the model supports
	// (max_position_embeddings).
	ContextLength() int
	// NewCache returns an empty KV cache for B rows of up to maxLen
	// positions each.
	NewCache(B, maxLen int) *nn.KVCache
	// Forward runs ids (B, T): row b's tokens take positions
	// cache.Len[b] .. cache.Len[b]+T-1, their keys and values are appended
	// to the cache, and cache.Len[b] grows by T. It writes logits (B, T, V),
	// or only the last position's (B, V) when lastOnly is set. It returns an
	// error, and changes nothing, when a row would exceed the cache.
	Forward(cache *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error
}
