package gpt2_test

import (
	"math"
	"strings"
	"testing"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/gpt2"
)

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestCachedEqualsUncached: the training forward equals the cached forward
// at once and token by token; the slots keep PEFT's names and FanInFanOut.
func TestCachedEqualsUncached(t *testing.T) {
	b, err := model.Load("../../testdata/ref/gpt2-tiny", model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(*gpt2.Model)
	const B, T = 2, 7
	V := m.VocabSize()
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32((i*29 + 3) % V)
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
		t.Fatalf("prefill differs by %.3g", d)
	}
	cache := m.NewCache(B, T)
	step := make([]float32, B*V)
	for ti := 0; ti < T; ti++ {
		if err := m.Forward(cache, []int32{ids[ti], ids[T+ti]}, B, 1, step, true); err != nil {
			t.Fatal(err)
		}
		for bi := 0; bi < B; bi++ {
			if d := maxAbsDiff(step[bi*V:(bi+1)*V], ref[(bi*T+ti)*V:(bi*T+ti+1)*V]); d > 1e-5 {
				t.Fatalf("token %d row %d differs by %.3g", ti, bi, d)
			}
		}
	}
	s := b.Slots[0]
	if s.Name != "transformer.h.0.attn.c_attn" || !(*s.Layer).Base().FanInFanOut || (*s.Layer).Base().Out != 3*48 {
		t.Fatalf("slot 0: %s %+v", s.Name, (*s.Layer).Base())
	}
	// Past n_positions (32) is refused even with a larger cache.
	big := m.NewCache(1, 40)
	long := make([]int32, 33)
	if err := m.Forward(big, long, 1, 33, make([]float32, V), true); err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("33 positions: %v", err)
	}
}
