package ckpt

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fake is an in-memory Source.
type fake map[string][]int

func (f fake) Path() string { return "fake.safetensors" }
func (f fake) Names() []string {
	var ns []string
	for n := range f {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}
func (f fake) Shape(n string) ([]int, bool) { s, ok := f[n]; return s, ok }
func (f fake) DType(string) string          { return "F32" }
func (f fake) GGUF() bool                   { return false }
func (f fake) Float32Into(n string, dst []float32) error {
	k := 1
	for _, d := range f[n] {
		k *= d
	}
	if len(dst) != k {
		return fmt.Errorf("fake: %s has %d values, not %d", n, k, len(dst))
	}
	for i := range dst {
		dst[i] = float32(i)
	}
	return nil
}

func TestFill(t *testing.T) {
	// w and tr come preallocated, as a model's constructor leaves them
	// (tensor.Weights): Fill must read into those buffers, not replace
	// them. b is nil and short is too small: Fill allocates both.
	w, tr, short := make([]float32, 6), make([]float32, 6), make([]float32, 2)
	w0, tr0, short0 := &w[0], &tr[0], &short[0]
	var b []float32
	src := fake{"w": {2, 3}, "b": {3}, "conv": {2, 3}, "buf": {1}, "buf2": {4}, "extra": {4}, "bad": {5}}
	var sink []float32
	err := Fill(src, []Entry{
		{Name: "w", Dst: &w, Shape: []int{2, 3}},
		{Name: "b", Dst: &b, Shape: []int{3}, Fix: func(v []float32) { v[0] = 9 }},
		{Name: "conv", Dst: &tr, Shape: []int{3, 2}, Transpose: true},
		{Name: "gone", Dst: &sink, Shape: []int{1}},
		{Name: "opt", Dst: &sink, Shape: []int{1}, Optional: true},
		{Name: "bad", Dst: &sink, Shape: []int{6}},
		{Name: "extra", Dst: &short, Shape: []int{4}},
	}, func(n string) bool { return n == "buf" })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"fake.safetensors", "missing tensors (1): gone", "wrong shapes (1): bad has shape [5], want [6]", "unused tensors (1): buf2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !slices.Equal(w, []float32{0, 1, 2, 3, 4, 5}) || !slices.Equal(b, []float32{9, 1, 2}) {
		t.Fatalf("w %v b %v", w, b)
	}
	// conv stored (2, 3) = [[0 1 2] [3 4 5]] becomes (3, 2).
	if !slices.Equal(tr, []float32{0, 3, 1, 4, 2, 5}) {
		t.Fatalf("transposed %v", tr)
	}
	if &w[0] != w0 || &tr[0] != tr0 {
		t.Error("Fill replaced a destination that had the tensor's size")
	}
	if !slices.Equal(short, []float32{0, 1, 2, 3}) || &short[0] == short0 {
		t.Errorf("a destination of the wrong size: %v, not reallocated", short)
	}
	if DTypes(src) != "F32" {
		t.Fatal(DTypes(src))
	}
}
