package gguf

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/tensor"
)

func TestWriteReadRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	kvs := []KV{
		{"general.architecture", ValueOf("llama")},
		{AlignmentKey, ValueOf(uint32(64))},
		{"u8", ValueOf(uint8(3))},
		{"i8", ValueOf(int8(-3))},
		{"u16", ValueOf(uint16(65535))},
		{"i16", ValueOf(int16(-32768))},
		{"i32", ValueOf(int32(-7))},
		{"f32", ValueOf(float32(1e-5))},
		{"b", ValueOf(false)},
		{"u64", ValueOf(uint64(1) << 40)},
		{"i64", ValueOf(int64(-1) << 40)},
		{"f64", ValueOf(2.5)},
		{"tokens", ArrayOf([]string{"<unk>", "<s>", "▁the"})},
		{"scores", ArrayOf([]float32{0, -1, -2.5})},
		{"types", ArrayOf([]int32{2, 3, 1})},
		{"flags", ArrayOf([]bool{true, false})},
		{"empty", ArrayOf([]uint64{})},
		{"nested", ArrayOfArrays([]Value{ArrayOf([]int16{1, 2}), ArrayOf([]string{"a"})})},
	}
	w32, w16, wbf, wq := randn(6*5), randn(64), randn(7), randn(2*64)
	var tensors []Tensor
	for _, c := range []struct {
		name string
		typ  Type
		dims []int
		v    []float32
	}{
		{"w.f32", F32, []int{6, 5}, w32},
		{"w.f16", F16, []int{64}, w16},
		{"w.bf16", BF16, []int{7}, wbf},
		{"w.q8_0", Q8_0, []int{64, 2}, wq},
	} {
		tt, err := FromFloat32(c.name, c.typ, c.dims, c.v)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, tt)
	}
	// A raw Q4_K tensor (the hand block of TestQ4_KHandBlock's layout).
	raw := make([]byte, 144)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	tensors = append(tensors, Tensor{Name: "w.q4_k", Type: Q4_K, Dims: []int{256}, Data: raw})

	path := filepath.Join(t.TempDir(), "out.gguf")
	if err := Write(path, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment() != 64 || f.DataOffset()%64 != 0 {
		t.Errorf("alignment %d, data offset %d", f.Alignment(), f.DataOffset())
	}
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
		got, _ := f.Value(kv.Key)
		if got.Type() != kv.Value.Type() || got.ElemType() != kv.Value.ElemType() || !reflect.DeepEqual(got.Interface(), kv.Value.Interface()) {
			t.Errorf("%s = %v %#v, want %v %#v", kv.Key, got.Type(), got.Interface(), kv.Value.Type(), kv.Value.Interface())
		}
	}
	if !slices.Equal(f.Keys(), keys) {
		t.Errorf("Keys = %v, want %v", f.Keys(), keys)
	}
	for i, tt := range tensors {
		ti := f.Tensors()[i]
		if ti.Name != tt.Name || ti.Type != tt.Type || !slices.Equal(ti.Dims, tt.Dims) || ti.Offset%64 != 0 {
			t.Errorf("tensor %d: %+v, want %s %s %v", i, ti, tt.Name, tt.Type, tt.Dims)
		}
		b, _, _ := f.Raw(tt.Name)
		if !slices.Equal(b, tt.Data) {
			t.Errorf("%s: data differs", tt.Name)
		}
	}
	check := func(name string, want []float32) {
		got, err := f.Float32(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s = %v (%v), want %v", name, got, err, want)
		}
		into := make([]float32, len(want))
		if err := f.Float32Into(name, into); err != nil || !slices.Equal(into, want) {
			t.Errorf("Float32Into %s = %v (%v), want %v", name, into, err, want)
		}
		if err := f.Float32Into(name, make([]float32, len(want)+1)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Float32Into %s with a buffer one too long: err = %v, want one naming the tensor", name, err)
		}
	}
	check("w.f32", w32)
	round := func(v []float32, fn func(float32) float32) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = fn(x)
		}
		return out
	}
	check("w.f16", round(w16, func(x float32) float32 { return tensor.F16ToF32(tensor.F32ToF16(x)) }))
	check("w.bf16", round(wbf, func(x float32) float32 { return tensor.BF16ToF32(tensor.F32ToBF16(x)) }))
	q, _ := QuantizeQ8_0(wq)
	wantQ := make([]float32, len(wq))
	Dequantize(Q8_0, q, wantQ)
	check("w.q8_0", wantQ)

	// The file is exactly what the layout predicts: padded tensors.
	st, _ := os.Stat(path)
	if st.Size()%64 != 0 {
		t.Errorf("file size %d is not padded to the alignment", st.Size())
	}
}

func TestWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.gguf")
	ok, _ := FromFloat32("w", F32, []int{2}, []float32{1, 2})
	cases := []struct {
		name    string
		kvs     []KV
		tensors []Tensor
		want    string
	}{
		{"duplicate key", []KV{{"a", ValueOf(1.0)}, {"a", ValueOf(2.0)}}, nil, `"a" appears twice`},
		{"bad alignment", []KV{{AlignmentKey, ValueOf(uint32(48))}}, nil, AlignmentKey},
		{"zero value", []KV{{"z", Value{}}}, nil, `"z"`},
		{"duplicate tensor", nil, []Tensor{ok, ok}, `"w" appears twice`},
		{"short data", nil, []Tensor{{Name: "s", Type: F32, Dims: []int{3}, Data: make([]byte, 8)}}, `"s": dims [3] of F32 need 12 bytes`},
		{"partial block", nil, []Tensor{{Name: "q", Type: Q8_0, Dims: []int{16}, Data: make([]byte, 17)}}, `"q": row of 16`},
		{"quantised scalar", nil, []Tensor{{Name: "qs", Type: Q8_0, Dims: nil, Data: nil}}, `"qs": 1 elements`},
		{"too many dims", nil, []Tensor{{Name: "d", Type: F32, Dims: []int{1, 1, 1, 1, 1}, Data: make([]byte, 4)}}, `"d": 5 dims`},
	}
	for _, c := range cases {
		err := Write(path, c.kvs, c.tensors)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file and %s", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed write left %s behind", path)
	}
	if _, err := FromFloat32("q", Q8_0, []int{16, 2}, make([]float32, 32)); err == nil {
		t.Error("FromFloat32 made Q8_0 rows of 16")
	}
	if _, err := FromFloat32("q", Q4_K, []int{256}, make([]float32, 256)); err == nil {
		t.Error("FromFloat32 claimed to write Q4_K")
	}
}

// TestWriteValues: tensors given as float32 Values (encoded while writing,
// in chunks) make the same file as the same tensors encoded up front.
func TestWriteValues(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	var eager, lazy []Tensor
	for i, typ := range []Type{F32, BF16, F16, Q8_0} {
		v := make([]float32, 32*1100) // several chunks
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		name := "t" + typ.String()
		dims := []int{32 * 55, 20}
		e, err := FromFloat32(name, typ, dims, v)
		if err != nil {
			t.Fatal(i, err)
		}
		eager = append(eager, e)
		lazy = append(lazy, Tensor{Name: name, Type: typ, Dims: dims, Values: v})
	}
	dir := t.TempDir()
	pe, pl := filepath.Join(dir, "e.gguf"), filepath.Join(dir, "l.gguf")
	kvs := []KV{{"general.architecture", ValueOf("llama")}}
	if err := Write(pe, kvs, eager); err != nil {
		t.Fatal(err)
	}
	if err := Write(pl, kvs, lazy); err != nil {
		t.Fatal(err)
	}
	be, _ := os.ReadFile(pe)
	bl, _ := os.ReadFile(pl)
	if !slices.Equal(be, bl) {
		t.Fatal("Values and Data give different files")
	}
	for _, bad := range []Tensor{
		{Name: "x", Type: Q4_K, Dims: []int{256}, Values: make([]float32, 256)},
		{Name: "x", Type: F32, Dims: []int{2}, Values: []float32{1}},
	} {
		if err := Write(pl, nil, []Tensor{bad}); err == nil || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s Values: err = %v", bad.Type, err)
		}
	}
}
