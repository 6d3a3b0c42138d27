package ckpt

import (
	"math"
	"slices"
	"testing"
)

// TestRandomizer checks the rule (biases zero, norms one, matrices about
// N(0, 0.02)) and that one seed gives the same weights.
func TestRandomizer(t *testing.T) {
	fill := func(seed uint64) (bias, norm, w []float32) {
		bias, norm, w = make([]float32, 8), make([]float32, 8), make([]float32, 4096)
		r := NewRandomizer(seed)
		r.Fill("model.layers.0.self_attn.q_proj.bias", bias, 1)
		r.Fill("model.norm.weight", norm, 1)
		r.Fill("model.layers.0.mlp.up_proj.weight", w, 2)
		return bias, norm, w
	}
	bias, norm, w := fill(7)
	for i := range bias {
		if bias[i] != 0 || norm[i] != 1 {
			t.Fatalf("bias %v, norm %v", bias, norm)
		}
	}
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	if sd := math.Sqrt(ss / float64(len(w))); sd < 0.018 || sd > 0.022 {
		t.Errorf("matrix standard deviation %.4f, want about 0.02", sd)
	}
	if _, _, w2 := fill(7); !slices.Equal(w, w2) {
		t.Error("the same seed gave other weights")
	}
	if _, _, w3 := fill(8); slices.Equal(w, w3) {
		t.Error("another seed gave the same weights")
	}
}
