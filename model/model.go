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

// Trainable is a decoder the trainer drives: a forward pass that saves its
// activations and returns the loss, and a backward pass that accumulates
// gradients into the trainable layers (LoRA wrappers placed in the model's
// slots); frozen base weights get no gradient.
type Trainable interface {
	CausalLM
	// Slots lists the model's linear layers by their Hugging Face/PEFT
	// module names, for lora.Apply.
	Slots() []nn.Slot
	// ForwardLoss runs ids (B, T) from position 0, saving activations, and
	// returns the sum of the cross-entropy over every position whose target
	// (B, T) is not -100, and how many such positions there were.
	// targets[b*T+t] is the token position t must predict (already shifted).
	ForwardLoss(ids, targets []int32, B, T int) (sum float64, count int, err error)
	// Backward back-propagates scale·sum from the last ForwardLoss,
	// accumulating (+=) into the trainable layers' gradients.
	Backward(scale float32) error
	// EvalLoss returns what ForwardLoss would, without keeping anything
	// for Backward or computing the gradient the loss starts it with.
	EvalLoss(ids, targets []int32, B, T int) (sum float64, count int, err error)
}
