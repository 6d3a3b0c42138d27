// Package ckpt fills a model's weights from a checkpoint (safetensors set or
// GGUF file) through the architecture's weight-name table, and reports
// every problem at once: missing tensors, wrong shapes, and tensors the
// table does not use.
package ckpt

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/format/safetensors"
)

// Source is a checkpoint's tensors by name.
type Source interface {
	// Path names the checkpoint in errors.
	Path() string
	// Names lists every tensor, sorted.
	Names() []string
	// Shape returns a tensor's row-major shape (PyTorch order).
	Shape(name string) ([]int, bool)
	// DType returns a tensor's storage type ("F32", "BF16", "Q8_0", ...).
	DType(name string) string
	// Float32Into writes a tensor's values, converted or dequantised, into
	// dst, which holds exactly as many.
	Float32Into(name string, dst []float32) error
	// GGUF reports whether names and layouts are GGUF's.
	GGUF() bool
}

// Entry is one row of an architecture's weight table, resolved for one
// source: the checkpoint tensor Name goes to *Dst.
type Entry struct {
	Name  string     // tensor name in the checkpoint
	Dst   *[]float32 // destination: Fill reads into it when it has the tensor's size, else allocates
	Shape []int      // the row-major shape the model needs, (Out, In) for a weight
	// Transpose marks a 2-D tensor stored (In, Out) (GPT-2 Conv1D): it is
	// checked against the reversed Shape and transposed while loading.
	Transpose bool
	// Optional entries may be absent (a tied head's lm_head.weight).
	Optional bool
	// Fix, when set, rewrites the values in place after reading (GGUF's
	// q/k row permutation).
	Fix func(v []float32)
}

// Fill reads every entry of table from src. Tensors for which ignore
// returns true are known non-weights (buffers) and may be left unused. It
// returns one error listing every missing tensor, wrong shape and unused
// tensor, naming the checkpoint.
func Fill(src Source, table []Entry, ignore func(name string) bool) error {
	used := map[string]bool{}
	var missing, shapes, other []string
	for _, e := range table {
		shape, ok := src.Shape(e.Name)
		if !ok {
			if !e.Optional {
				missing = append(missing, e.Name)
			}
			continue
		}
		used[e.Name] = true
		want := e.Shape
		if e.Transpose {
			want = []int{e.Shape[1], e.Shape[0]}
		}
		if !sameShape(shape, want) {
			shapes = append(shapes, fmt.Sprintf("%s has shape %v, want %v", e.Name, shape, want))
			continue
		}
		if err := read(src, e, want); err != nil {
			other = append(other, err.Error())
		}
	}
	var unused []string
	for _, n := range src.Names() {
		if !used[n] && (ignore == nil || !ignore(n)) {
			unused = append(unused, n)
		}
	}
	if len(missing)+len(shapes)+len(other)+len(unused) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: checkpoint does not match the model:", src.Path())
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&b, "\n  %s (%d): %s", what, len(xs), strings.Join(xs, ", "))
		}
	}
	list("missing tensors", missing)
	list("wrong shapes", shapes)
	list("unreadable tensors", other)
	list("unused tensors", unused)
	return errors.New(b.String())
}

// read fills *e.Dst with tensor e.Name of stored shape want. The model's
// own buffer (tensor.Weights, on huge pages) takes the values directly
// when it has their size; a transposed tensor goes through a buffer of
// its own.
func read(src Source, e Entry, want []int) error {
	n := 1
	for _, d := range want {
		n *= d
	}
	dst := *e.Dst
	if len(dst) != n {
		dst = make([]float32, n)
	}
	v := dst
	if e.Transpose {
		v = make([]float32, n)
	}
	if err := src.Float32Into(e.Name, v); err != nil {
		return err
	}
	if e.Transpose {
		transposeInto(dst, v, want[0], want[1])
	}
	if e.Fix != nil {
		e.Fix(dst)
	}
	*e.Dst = dst
	return nil
}

func sameShape(a, b []int) bool {
	// A 1-D tensor may be stored with leading unit dims in some files.
	for len(a) > len(b) && a[0] == 1 {
		a = a[1:]
	}
	return slices.Equal(a, b)
}

// transposeInto writes the (C, R) transpose of m (R, C) into t.
func transposeInto(t, m []float32, R, C int) {
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			t[c*R+r] = m[r*C+c]
		}
	}
}

// Elements returns the number of values all of src's tensors hold
// together, as a float64 so that lying shapes cannot overflow it.
func Elements(src Source) float64 {
	var total float64
	for _, n := range src.Names() {
		shape, _ := src.Shape(n)
		e := 1.0
		for _, d := range shape {
			e *= float64(d)
		}
		total += e
	}
	return total
}

// DTypes returns the distinct storage types of src's weight tensors,
// sorted, as "F32" or "BF16" or "F32+Q8_0". Integer and boolean tensors
// (buffers such as BERT's I64 position_ids) are not weights and are left
// out.
func DTypes(src Source) string {
	seen := map[string]bool{}
	for _, n := range src.Names() {
		switch d := src.DType(n); d {
		case "BOOL", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64":
		default:
			seen[d] = true
		}
	}
	var ds []string
	for d := range seen {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return strings.Join(ds, "+")
}

// Safetensors adapts a safetensors set; path names it in errors.
func Safetensors(s *safetensors.Set, path string) Source { return stSource{s, path} }

type stSource struct {
	s    *safetensors.Set
	path string
}

func (s stSource) Path() string    { return s.path }
func (s stSource) Names() []string { return s.s.Names() }
func (s stSource) GGUF() bool      { return false }
func (s stSource) Shape(n string) ([]int, bool) {
	ti, ok := s.s.Info(n)
	return ti.Shape, ok
}
func (s stSource) DType(n string) string {
	ti, _ := s.s.Info(n)
	return string(ti.DType)
}
func (s stSource) Float32Into(n string, dst []float32) error { return s.s.Float32Into(n, dst) }

// GGUF adapts a GGUF file.
func GGUF(f *gguf.File) Source { return ggufSource{f} }

type ggufSource struct{ f *gguf.File }

func (g ggufSource) Path() string { return g.f.Path() }
func (g ggufSource) GGUF() bool   { return true }
func (g ggufSource) Names() []string {
	var ns []string
	for _, t := range g.f.Tensors() {
		ns = append(ns, t.Name)
	}
	sort.Strings(ns)
	return ns
}
func (g ggufSource) Shape(n string) ([]int, bool) {
	ti, ok := g.f.Tensor(n)
	if !ok {
		return nil, false
	}
	return ti.Shape(), true
}
func (g ggufSource) DType(n string) string {
	ti, _ := g.f.Tensor(n)
	return ti.Type.String()
}
func (g ggufSource) Float32Into(n string, dst []float32) error { return g.f.Float32Into(n, dst) }
