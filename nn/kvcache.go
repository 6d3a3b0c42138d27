package nn

import "fmt"

// KVCache holds the keys and values of past positions for every layer of a
// decoder, for B independent rows (sequences) that may have different
// lengths. Row b's positions 0..Len[b]-1 are filled.
//
// Each layer's keys (and values) are laid out (B, Heads, MaxLen, HeadDim):
// one head's positions of one row are contiguous, so decoding streams each
// head's keys and values in address order (the layout a linear layer
// writes, (B, T, Heads·HeadDim), interleaves the heads and read 14-17%
// slower for SmolLM's 64-float heads at 384 to 2048 positions).
type KVCache struct {
	Layers  int // number of decoder layers
	B       int // rows (batch)
	MaxLen  int // positions each row can hold
	Heads   int // key/value heads
	HeadDim int // values per head
	KVDim   int // Heads · HeadDim

	K [][]float32 // per layer (B, Heads, MaxLen, HeadDim)
	V [][]float32 // per layer (B, Heads, MaxLen, HeadDim)

	Len []int // (B) filled positions per row
}

// NewKVCache allocates a cache for layers decoder layers, B rows of up to
// maxLen positions, each position holding heads·headDim keys and as many
// values.
func NewKVCache(layers, B, maxLen, heads, headDim int) *KVCache {
	kvDim := heads * headDim
	c := &KVCache{Layers: layers, B: B, MaxLen: maxLen, Heads: heads, HeadDim: headDim, KVDim: kvDim,
		K: make([][]float32, layers), V: make([][]float32, layers), Len: make([]int, B)}
	for l := range c.K {
		c.K[l] = make([]float32, B*maxLen*kvDim)
		c.V[l] = make([]float32, B*maxLen*kvDim)
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

// Row returns layer l's keys and values of row b, each (Heads, MaxLen,
// HeadDim).
func (c *KVCache) Row(l, b int) (k, v []float32) {
	n := c.MaxLen * c.KVDim
	return c.K[l][b*n : (b+1)*n], c.V[l][b*n : (b+1)*n]
}

// Put writes T positions of keys k and values v, each (T, Heads·HeadDim)
// as linear layers produce them, into layer l's row b at positions
// pos..pos+T-1. It does not change Len.
func (c *KVCache) Put(l, b, pos, T int, k, v []float32) {
	kr, vr := c.Row(l, b)
	hd := c.HeadDim
	for t := range T {
		for h := range c.Heads {
			at := (h*c.MaxLen + pos + t) * hd
			from := t*c.KVDim + h*hd
			copy(kr[at:at+hd], k[from:from+hd])
			copy(vr[at:at+hd], v[from:from+hd])
		}
	}
}

// CopyRow copies the filled positions of src's row sb into c's row db.
// The caches share layers and heads; they may differ in rows and MaxLen.
func (c *KVCache) CopyRow(db int, src *KVCache, sb int) {
	if src.Len[sb] > c.MaxLen || src.Heads != c.Heads || src.HeadDim != c.HeadDim || src.Layers != c.Layers {
		panic(fmt.Sprintf("nn.KVCache: row of %d positions of %d×%d heads into a cache of %d positions of %d×%d", src.Len[sb], src.Heads, src.HeadDim, c.MaxLen, c.Heads, c.HeadDim))
	}
	n := src.Len[sb] * src.HeadDim
	for l := range src.K {
		dk, dv := c.Row(l, db)
		sk, sv := src.Row(l, sb)
		for h := range src.Heads {
			do, so := h*c.MaxLen*c.HeadDim, h*src.MaxLen*src.HeadDim
			copy(dk[do:do+n], sk[so:so+n])
			copy(dv[do:do+n], sv[so:so+n])
		}
	}
	c.Len[db] = src.Len[sb]
}

// Rows returns a cache of the first b rows of c, sharing its memory.
func (c *KVCache) Rows(b int) *KVCache {
	n := b * c.MaxLen * c.KVDim
	v := *c
	v.B, v.Len = b, c.Len[:b]
	v.K, v.V = make([][]float32, c.Layers), make([][]float32, c.Layers)
	for l := range v.K {
		v.K[l], v.V[l] = c.K[l][:n], c.V[l][:n]
	}
	return &v
}
