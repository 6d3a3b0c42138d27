package nn

import (
	"fmt"

	"github.com/loftml/loft/tensor"
)

// KVCache holds the keys and values of past positions for every layer of a
// decoder, for B independent rows (sequences) that may have different
// lengths. Row b's positions 0..Len[b]-1 are filled.
type KVCache struct {
	Layers int // number of decoder layers
	B      int // rows (batch)
	MaxLen int // positions each row can hold
	KVDim  int // NKV * HS

	K [][]float32 // per layer (B, MaxLen, KVDim)
	V [][]float32 // per layer (B, MaxLen, KVDim)

	Len []int // (B) filled positions per row
}

// NewKVCache allocates a cache for layers decoder layers, B rows of up to
// maxLen positions, each position holding kvDim keys and kvDim values.
func NewKVCache(layers, B, maxLen, kvDim int) *KVCache {
	c := &KVCache{Layers: layers, B: B, MaxLen: maxLen, KVDim: kvDim,
		K: make([][]float32, layers), V: make([][]float32, layers), Len: make([]int, B)}
	for l := range c.K {
		c.K[l] = tensor.Make(B * maxLen * kvDim)
		c.V[l] = tensor.Make(B * maxLen * kvDim)
	}
	return c
}

// Reset empties every row, keeping the memory.
func (c *KVCache) Reset() {
	for b := range c.Len {
		c.Len[b] = 0
	}
}

// Room returns an error when row b cannot take n more positions: the
// context limit, reported in words a user understands.
func (c *KVCache) Room(b, n int) error {
	if c.Len[b]+n > c.MaxLen {
		return fmt.Errorf("context length exceeded: %d tokens in the context plus %d new exceed the limit of %d", c.Len[b], n, c.MaxLen)
	}
	return nil
}
