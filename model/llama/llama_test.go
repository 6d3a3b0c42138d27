package llama_test

import (
	"math"
	"slices"
	"testing"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/llama"
)

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestCachedEqualsUncached checks, on the qwen3 and llama3 fixtures (q/k
// norm, GQA with one KV head, scaled RoPE), that the training forward
// (no cache) equals the cached forward run all at once, token by token and
// in two chunks, including lastOnly.
func TestCachedEqualsUncached(t *testing.T) {
	for _, name := range []string{"qwen3-tiny", "llama3-tiny", "qwen2-tiny"} {
		t.Run(name, func(t *testing.T) {
			b, err := model.Load("../../testdata/ref/"+name, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := b.LM.(*llama.Model)
			const B, T = 2, 9
			V := m.VocabSize()
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32((i*37 + 5) % V)
			}
			ref := make([]float32, B*T*V)
			if err := m.ForwardTrain(m.NewActs(B, T, true), ids, B, T, ref); err != nil {
				t.Fatal(err)
			}
			all := make([]float32, B*T*V)
			if err := m.Forward(m.NewCache(B, T), ids, B, T, all, false); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(ref, all); d > 1e-5 {
				t.Fatalf("prefill differs from training forward by %.3g", d)
			}
			// Token by token, lastOnly.
			cache := m.NewCache(B, T)
			step := make([]float32, B*V)
			for ti := 0; ti < T; ti++ {
				col := []int32{ids[ti], ids[T+ti]}
				if err := m.Forward(cache, col, B, 1, step, true); err != nil {
					t.Fatal(err)
				}
				for bi := 0; bi < B; bi++ {
					if d := maxAbsDiff(step[bi*V:(bi+1)*V], ref[(bi*T+ti)*V:(bi*T+ti+1)*V]); d > 1e-5 {
						t.Fatalf("token %d row %d: step differs by %.3g", ti, bi, d)
					}
				}
			}
			// Two chunks of 4 and 5, the second with lastOnly.
			cache = m.NewCache(B, T)
			first := make([]float32, B*4*V)
			if err := m.Forward(cache, slices.Concat(ids[0:4], ids[T:T+4]), B, 4, first, false); err != nil {
				t.Fatal(err)
			}
			last := make([]float32, B*V)
			if err := m.Forward(cache, slices.Concat(ids[4:T], ids[T+4:2*T]), B, 5, last, true); err != nil {
				t.Fatal(err)
			}
			for bi := 0; bi < B; bi++ {
				if d := maxAbsDiff(first[bi*4*V:(bi+1)*4*V], ref[bi*T*V:(bi*T+4)*V]); d > 1e-5 {
					t.Fatalf("chunk 1 row %d differs by %.3g", bi, d)
				}
				if d := maxAbsDiff(last[bi*V:(bi+1)*V], ref[(bi*T+T-1)*V:(bi*T+T)*V]); d > 1e-5 {
					t.Fatalf("chunk 2 row %d differs by %.3g", bi, d)
				}
			}
			if cache.Len[0] != T || cache.Len[1] != T {
				t.Fatalf("cache lengths %v", cache.Len)
			}
			// A full cache refuses more and changes nothing.
			if err := m.Forward(cache, []int32{1, 1}, B, 1, last, true); err == nil || cache.Len[0] != T {
				t.Fatalf("full cache: err %v, len %v", err, cache.Len)
			}
		})
	}
}

// TestRowsIndependent: rows of one batch at different cache lengths give
// what each row gives alone.
func TestRowsIndependent(t *testing.T) {
	b, err := model.Load("../../testdata/ref/llama-tiny", model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(*llama.Model)
	V := m.VocabSize()
	cache := m.NewCache(2, 10)
	lg := make([]float32, 3*V)
	// Row 0 gets 3 tokens first (row 1 gets 3 too, then is reset to 1).
	if err := m.Forward(cache, []int32{1, 5, 9, 1, 7, 8}, 2, 3, make([]float32, 2*V), true); err != nil {
		t.Fatal(err)
	}
	cache.Len[1] = 1 // keep only row 1's BOS
	if err := m.Forward(cache, []int32{11, 12, 13, 14}, 2, 2, lg[:2*V], true); err != nil {
		t.Fatal(err)
	}
	want := func(ids []int32) []float32 {
		out := make([]float32, V)
		if err := m.Forward(m.NewCache(1, 8), ids, 1, len(ids), out, true); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if d := maxAbsDiff(lg[:V], want([]int32{1, 5, 9, 11, 12})); d > 1e-5 {
		t.Fatalf("row 0 differs by %.3g", d)
	}
	if d := maxAbsDiff(lg[V:2*V], want([]int32{1, 13, 14})); d > 1e-5 {
		t.Fatalf("row 1 differs by %.3g", d)
	}
}

func TestPermuteQKRoundTrip(t *testing.T) {
	const heads, hs, cols = 3, 8, 5
	w := make([]float32, heads*hs*cols)
	for i := range w {
		w[i] = float32(i)
	}
	p := slices.Clone(w)
	llama.PermuteQK(p, heads, cols)
	// Head 1, HF row 4 (i=1, j=0 with half 4) goes to GGUF row 1.
	if p[(1*hs+1)*cols] != w[(1*hs+4)*cols] {
		t.Fatalf("permuted row: got %v, want %v", p[(1*hs+1)*cols], w[(1*hs+4)*cols])
	}
	llama.UnpermuteQK(p, heads, cols)
	if !slices.Equal(p, w) {
		t.Fatal("UnpermuteQK(PermuteQK(w)) != w")
	}
}
