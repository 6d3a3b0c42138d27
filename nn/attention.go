package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// Attention is multi-head scaled dot-product attention with grouped-query
// heads on projected q, k and v (the projections and RoPE belong to the
// architecture). It runs either over a whole sequence (training, encoders:
// Forward, which saves the probabilities for backward) or over a KV cache
// (generation: ForwardCached).
type Attention struct {
	NH, NKV, HS int
	Scale       float32 // multiplies q·k; 0 means 1/sqrt(HS)
}

// Forward attends every query of T positions over the same sequence's keys.
// out (B, T, NH, HS), probs (B, NH, T, T) saved for backward, q (B, T, NH,
// HS), k, v (B, T, NKV, HS). causal masks future keys; lens (B), when not
// nil, masks keys at positions >= lens[b] (padding).
func (a *Attention) Forward(out, probs, q, k, v []float32, B, T int, causal bool, lens []int) {
	kernels.AttentionForward(out, probs, q, k, v, &kernels.AttnShape{
		B: B, T: T, NH: a.NH, NKV: a.NKV, HS: a.HS, Causal: causal, Scale: a.Scale, Lens: lens})
}

// attnChunk is the number of queries attended per call in ForwardCached, so
// the probabilities scratch stays NH·attnChunk·L however long the prompt.
const attnChunk = 128

// CachedScratch returns the scratch length ForwardCached needs for T new
// positions on rows whose longest filled length is maxLen before the call.
func (a *Attention) CachedScratch(T, maxLen int) int {
	return a.NH * min(T, attnChunk) * (maxLen + T)
}

// ForwardCached writes k and v (B, T, NKV, HS) into layer l of the cache at
// row b's positions c.Len[b] .. c.Len[b]+T-1, then attends each query of q
// (B, T, NH, HS) causally over its row's keys, writing out (B, T, NH, HS).
// scratch holds at least CachedScratch(T, max c.Len) values. c.Len is not
// changed: the model advances it once all layers have run. Rows have
// independent lengths, so each row is its own attention call.
func (a *Attention) ForwardCached(out, scratch, q, k, v []float32, B, T int, c *KVCache, l int) {
	kvd := a.NKV * a.HS
	qd := a.NH * a.HS
	if c.Heads != a.NKV || c.HeadDim != a.HS {
		panic(fmt.Sprintf("nn.Attention: cache holds %d heads of %d values, layer makes %d of %d", c.Heads, c.HeadDim, a.NKV, a.HS))
	}
	for b := 0; b < B; b++ {
		L := c.Len[b]
		if L+T > c.MaxLen {
			panic(fmt.Sprintf("nn.Attention: row %d: %d cached + %d new positions exceed the cache's %d", b, L, T, c.MaxLen))
		}
		c.Put(l, b, L, T, k[b*T*kvd:(b+1)*T*kvd], v[b*T*kvd:(b+1)*T*kvd])
		kr, vr := c.Row(l, b)
		for t0 := 0; t0 < T; t0 += attnChunk {
			t1 := min(t0+attnChunk, T)
			TK := L + t1 // the chunk's queries are the last t1-t0 of TK keys
			qs := q[(b*T+t0)*qd : (b*T+t1)*qd]
			kernels.AttentionForward(out[(b*T+t0)*qd:(b*T+t1)*qd], scratch[:a.NH*(t1-t0)*TK], qs, kr, vr,
				&kernels.AttnShape{B: 1, T: t1 - t0, TK: TK, NH: a.NH, NKV: a.NKV, HS: a.HS, Causal: true, Scale: a.Scale,
					KVRow: a.HS, KVHead: c.MaxLen * a.HS})
		}
	}
}
