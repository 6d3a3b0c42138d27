package gguf

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The tests build GGUF bytes by hand from the format description,
// independently of the package's writer.

type kvSpec struct {
	key     string
	typ     uint32
	payload []byte // the value's encoding after its type
}

type tiSpec struct {
	name string
	dims []uint64
	typ  uint32
	off  uint64
}

type fileSpec struct {
	version   uint32
	nTensors  *uint64 // overrides len(tis)
	nKV       *uint64 // overrides len(kvs)
	kvs       []kvSpec
	tis       []tiSpec
	alignment int // padding before the data; 32 if 0
	data      []byte
}

func pU8(v uint8) []byte   { return []byte{v} }
func pU16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func pU32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func pU64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func pF32(v float32) []byte {
	return pU32(math.Float32bits(v))
}
func pStr(s string) []byte { return append(pU64(uint64(len(s))), s...) }

// pArr encodes an array: element type, count, then the elements' bytes.
func pArr(elem uint32, n uint64, elems ...[]byte) []byte {
	b := append(pU32(elem), pU64(n)...)
	for _, e := range elems {
		b = append(b, e...)
	}
	return b
}

func (s fileSpec) encode() []byte {
	b := []byte("GGUF")
	v := s.version
	if v == 0 {
		v = 3
	}
	b = append(b, pU32(v)...)
	nt, nk := uint64(len(s.tis)), uint64(len(s.kvs))
	if s.nTensors != nil {
		nt = *s.nTensors
	}
	if s.nKV != nil {
		nk = *s.nKV
	}
	b = append(b, pU64(nt)...)
	b = append(b, pU64(nk)...)
	for _, kv := range s.kvs {
		b = append(b, pStr(kv.key)...)
		b = append(b, pU32(kv.typ)...)
		b = append(b, kv.payload...)
	}
	for _, ti := range s.tis {
		b = append(b, pStr(ti.name)...)
		b = append(b, pU32(uint32(len(ti.dims)))...)
		for _, d := range ti.dims {
			b = append(b, pU64(d)...)
		}
		b = append(b, pU32(ti.typ)...)
		b = append(b, pU64(ti.off)...)
	}
	a := s.alignment
	if a == 0 {
		a = 32
	}
	for len(b)%a != 0 {
		b = append(b, 0)
	}
	return append(b, s.data...)
}

// handSpec is a small valid file with one key of every value type and
// three tensors: a (F32, dims [3 2]) = 1..6, b (F16, [4]) = 1, -2, 0.5,
// 65504, c (Q8_0, [32]) with d = 1 and q = i - 16.
func handSpec() fileSpec {
	var data []byte
	for i := 1; i <= 6; i++ {
		data = append(data, pF32(float32(i))...)
	}
	data = append(data, make([]byte, 32-24)...) // pad to 32
	data = append(data, pU16(0x3c00)...)
	data = append(data, pU16(0xc000)...)
	data = append(data, pU16(0x3800)...)
	data = append(data, pU16(0x7bff)...)
	data = append(data, make([]byte, 64-40)...)
	data = append(data, pU16(0x3c00)...)
	for i := 0; i < 32; i++ {
		data = append(data, byte(int8(i-16)))
	}
	return fileSpec{
		kvs: []kvSpec{
			{"general.architecture", 8, pStr("llama")},
			{"u8", 0, pU8(200)},
			{"i8", 1, pU8(0xfe)},
			{"u16", 2, pU16(60000)},
			{"i16", 3, pU16(0xfffd)},
			{"u32", 4, pU32(4000000000)},
			{"i32", 5, pU32(0xfffffffc)},
			{"f32", 6, pF32(0.25)},
			{"bool", 7, pU8(1)},
			{"u64", 10, pU64(1 << 63)},
			{"i64", 11, pU64(0xfffffffffffffffb)},
			{"f64", 12, pU64(math.Float64bits(1e-300))},
			{"tokens", 9, pArr(8, 3, pStr("<s>"), pStr(""), pStr("héllo"))},
			{"scores", 9, pArr(6, 2, pF32(-1.5), pF32(2))},
			{"types", 9, pArr(5, 3, pU32(1), pU32(0xffffffff), pU32(3))},
			{"bytes", 9, pArr(0, 2, pU8(7), pU8(9))},
			{"nested", 9, pArr(9, 2, pArr(4, 1, pU32(5)), pArr(8, 1, pStr("x")))},
		},
		tis: []tiSpec{
			{"a", []uint64{3, 2}, 0, 0},
			{"b", []uint64{4}, 1, 32},
			{"c", []uint64{32}, 8, 64},
		},
		data: data,
	}
}

func TestParseHandBuilt(t *testing.T) {
	buf := handSpec().encode()
	f, err := Parse("hand.gguf", buf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != 3 || f.Alignment() != 32 || f.DataOffset()%32 != 0 {
		t.Errorf("version %d alignment %d data offset %d", f.Version(), f.Alignment(), f.DataOffset())
	}
	wantKeys := []string{"general.architecture", "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
		"u64", "i64", "f64", "tokens", "scores", "types", "bytes", "nested"}
	if !slices.Equal(f.Keys(), wantKeys) {
		t.Fatalf("Keys = %v", f.Keys())
	}
	wantVals := map[string]any{
		"general.architecture": "llama", "u8": uint8(200), "i8": int8(-2), "u16": uint16(60000),
		"i16": int16(-3), "u32": uint32(4000000000), "i32": int32(-4), "f32": float32(0.25), "bool": true,
		"u64": uint64(1 << 63), "i64": int64(-5), "f64": 1e-300,
		"tokens": []string{"<s>", "", "héllo"}, "scores": []float32{-1.5, 2},
		"types": []int32{1, -1, 3}, "bytes": []uint8{7, 9},
	}
	for k, w := range wantVals {
		v, _ := f.Value(k)
		if !reflect.DeepEqual(v.Interface(), w) {
			t.Errorf("%s = %#v, want %#v", k, v.Interface(), w)
		}
	}
	nested, _ := f.Value("nested")
	inner := nested.Interface().([]Value)
	if nested.ElemType() != Array || len(inner) != 2 ||
		!reflect.DeepEqual(inner[0].Interface(), []uint32{5}) || !reflect.DeepEqual(inner[1].Interface(), []string{"x"}) {
		t.Errorf("nested = %v", nested)
	}

	// Typed accessors, and their errors naming the key.
	if s, err := f.String("general.architecture"); s != "llama" || err != nil {
		t.Errorf("String = %q, %v", s, err)
	}
	if u, err := f.Uint("u64"); u != 1<<63 || err != nil {
		t.Errorf("Uint(u64) = %d, %v", u, err)
	}
	if u, err := f.Uint("u8"); u != 200 || err != nil {
		t.Errorf("Uint(u8) = %d, %v", u, err)
	}
	if i, err := f.Int("i16"); i != -3 || err != nil {
		t.Errorf("Int(i16) = %d, %v", i, err)
	}
	if x, err := f.Float("f32"); x != 0.25 || err != nil {
		t.Errorf("Float(f32) = %g, %v", x, err)
	}
	if x, err := f.Float("u32"); x != 4e9 || err != nil {
		t.Errorf("Float(u32) = %g, %v", x, err)
	}
	if b, err := f.Bool("bool"); !b || err != nil {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if xs, err := f.Int64Array("bytes"); !slices.Equal(xs, []int64{7, 9}) || err != nil {
		t.Errorf("Int64Array(bytes) = %v, %v", xs, err)
	}
	for _, c := range []struct {
		call func() error
		want string
	}{
		{func() error { _, err := f.Uint("i8"); return err }, `"i8" is int8, want a non-negative integer`},
		{func() error { _, err := f.Int("u64"); return err }, `"u64" is uint64`},
		{func() error { _, err := f.String("u8"); return err }, `"u8" is uint8, want string`},
		{func() error { _, err := f.Bool("u8"); return err }, `"u8"`},
		{func() error { _, err := f.Float("tokens"); return err }, `"tokens" is array of string`},
		{func() error { _, err := f.StringArray("scores"); return err }, `"scores" is array of float32`},
		{func() error { _, err := f.Float32Array("tokens"); return err }, `"tokens"`},
		{func() error { _, err := f.Int32Array("scores"); return err }, `"scores"`},
		{func() error { _, err := f.String("nope"); return err }, `"nope"`},
	} {
		err := c.call()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "hand.gguf") {
			t.Errorf("err = %v, want one naming hand.gguf and %s", err, c.want)
		}
	}
	if _, err := f.Uint("nope"); !errors.Is(err, ErrMissingKey) {
		t.Errorf("missing key error %v does not wrap ErrMissingKey", err)
	}

	// Tensors.
	wantT := map[string]struct {
		dims []int
		typ  Type
		vals []float32
	}{
		"a": {[]int{3, 2}, F32, []float32{1, 2, 3, 4, 5, 6}},
		"b": {[]int{4}, F16, []float32{1, -2, 0.5, 65504}},
		"c": {[]int{32}, Q8_0, func() []float32 {
			v := make([]float32, 32)
			for i := range v {
				v[i] = float32(i - 16)
			}
			return v
		}()},
	}
	for name, w := range wantT {
		ti, ok := f.Tensor(name)
		if !ok || !slices.Equal(ti.Dims, w.dims) || ti.Type != w.typ {
			t.Errorf("%s: %+v", name, ti)
		}
		got, err := f.Float32(name)
		if err != nil || !slices.Equal(got, w.vals) {
			t.Errorf("%s = %v (%v), want %v", name, got, err, w.vals)
		}
	}
	if ti, _ := f.Tensor("a"); !slices.Equal(ti.Shape(), []int{2, 3}) {
		t.Errorf("Shape of dims [3 2] = %v, want [2 3]", ti.Shape())
	}
	if _, err := f.Float32("zz"); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

// TestParseV2: version 2 has the same layout as version 3.
func TestParseV2(t *testing.T) {
	s := handSpec()
	s.version = 2
	f, err := Parse("v2.gguf", s.encode())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Float32("a"); f.Version() != 2 || !slices.Equal(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("version %d, a = %v", f.Version(), v)
	}
}

func u64p(v uint64) *uint64 { return &v }

// TestParseBadInput: headers that lie or are corrupt each fail with an error
// naming the file and the key, tensor or field.
func TestParseBadInput(t *testing.T) {
	mod := func(f func(s *fileSpec)) []byte {
		s := handSpec()
		f(&s)
		return s.encode()
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte("GGML"), handSpec().encode()[4:]...), "not a GGUF file"},
		{"version 1", mod(func(s *fileSpec) { s.version = 1 }), "version 1"},
		{"version 4", mod(func(s *fileSpec) { s.version = 4 }), "unsupported version 4"},
		{"huge tensor count", mod(func(s *fileSpec) { s.nTensors = u64p(1 << 60) }), "tensor count"},
		{"huge kv count", mod(func(s *fileSpec) { s.nKV = u64p(1 << 60) }), "key-value count"},
		{"kv count too high", mod(func(s *fileSpec) { s.nKV = u64p(uint64(len(s.kvs) + 1)) }), "tensor #"},
		{"huge string", mod(func(s *fileSpec) { s.kvs[0].payload = pU64(1 << 62) }), `"general.architecture": string length`},
		{"huge array", mod(func(s *fileSpec) { s.kvs[12].payload = pArr(8, 1<<40) }), `"tokens": array length`},
		{"huge u32 array", mod(func(s *fileSpec) { s.kvs[14].payload = pArr(5, 1<<61) }), `"types": array length`},
		{"unknown value type", mod(func(s *fileSpec) { s.kvs[1].typ = 13 }), `"u8": unknown value type 13`},
		{"unknown element type", mod(func(s *fileSpec) { s.kvs[13].payload = pArr(77, 1, pU32(0)) }), `"scores": unknown array element type 77`},
		{"bad bool", mod(func(s *fileSpec) { s.kvs[8].payload = pU8(2) }), `"bool": bool byte 2`},
		{"duplicate key", mod(func(s *fileSpec) { s.kvs[2].key = "u8" }), `"u8" appears twice`},
		{"deep nesting", mod(func(s *fileSpec) {
			p := pArr(4, 0)
			for i := 0; i < 6; i++ {
				p = pArr(9, 1, p)
			}
			s.kvs[16].payload = p
		}), `"nested": arrays nested deeper`},
		{"alignment not power of two", mod(func(s *fileSpec) {
			s.kvs = append(s.kvs, kvSpec{AlignmentKey, 4, pU32(24)})
		}), `"general.alignment" = 24`},
		{"alignment a string", mod(func(s *fileSpec) {
			s.kvs = append(s.kvs, kvSpec{AlignmentKey, 8, pStr("32")})
		}), `"general.alignment"`},
		{"too many dims", mod(func(s *fileSpec) { s.tis[0].dims = []uint64{1, 1, 1, 3, 2} }), `"a": 5 dims`},
		{"unknown tensor type", mod(func(s *fileSpec) { s.tis[1].typ = 99 }), `"b": unsupported ggml type type(99)`},
		{"IQ tensor type", mod(func(s *fileSpec) { s.tis[1].typ = 23 }), `"b": unsupported ggml type IQ4_XS`},
		{"dims overflow", mod(func(s *fileSpec) { s.tis[0].dims = []uint64{1 << 40, 1 << 40} }), `"a": dims overflow`},
		{"huge dims", mod(func(s *fileSpec) { s.tis[0].dims = []uint64{1 << 50, 4} }), `"a": 18014398509481984 bytes at data offset 0 run past the end`},
		{"row not whole blocks", mod(func(s *fileSpec) { s.tis[2].dims = []uint64{16, 2} }), `"c": row of 16 elements`},
		{"quantised scalar", mod(func(s *fileSpec) { s.tis[2].dims = nil }), `"c": 1 elements are not a multiple of the Q8_0 block size`},
		{"offset not aligned", mod(func(s *fileSpec) { s.tis[1].off = 24 }), `"b": offset 24`},
		{"offset past end", mod(func(s *fileSpec) { s.tis[1].off = 1 << 40 }), `"b": 8 bytes at data offset 1099511627776 run past the end`},
		{"tensor past end", mod(func(s *fileSpec) { s.tis[2].dims = []uint64{64} }), `"c": 68 bytes`},
		{"overlap", mod(func(s *fileSpec) { s.tis[1].off = 0 }), `tensors "a" [0, +24) and "b" [0, +8) overlap`},
		{"duplicate tensor", mod(func(s *fileSpec) { s.tis[1].name = "a" }), `tensor "a" appears twice`},
		{"truncated tensor info", mod(func(s *fileSpec) { s.nTensors = u64p(4); s.alignment = 1; s.data = nil }), "tensor #3: name: needs 8 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.gguf", c.file)
			if err == nil {
				t.Fatal("parsed without error")
			}
			if msg := err.Error(); !strings.Contains(msg, "bad.gguf") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not name the file and %q", msg, c.want)
			}
		})
	}
}

// TestTruncated cuts the valid hand-built file at every byte; each prefix
// must be refused, never read past its end.
func TestTruncated(t *testing.T) {
	full := handSpec().encode()
	if _, err := Parse("full", full); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		buf := append([]byte(nil), full[:n]...)
		if _, err := Parse("cut", buf); err == nil {
			t.Fatalf("prefix of %d/%d bytes parsed without error", n, len(full))
		}
	}
}

// FuzzGGUF checks no input makes the parser, the accessors or the
// dequantisers panic, and that Raw agrees with the declared sizes.
func FuzzGGUF(f *testing.F) {
	f.Add(handSpec().encode())
	f.Add(fileSpec{}.encode())
	small := handSpec()
	small.kvs = small.kvs[:3]
	f.Add(small.encode())
	// A file from the writer, with a K-quant tensor and custom alignment.
	q, _ := FromFloat32("q", Q8_0, []int{32}, make([]float32, 32))
	path := filepath.Join(f.TempDir(), "seed.gguf")
	if err := Write(path, []KV{{AlignmentKey, ValueOf(uint32(16))}, {"s", ArrayOf([]string{"a", "b"})}},
		[]Tensor{q, {Name: "k", Type: Q6_K, Dims: []int{256}, Data: make([]byte, 210)}}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, k := range file.Keys() {
			file.String(k)
			file.Uint(k)
			file.Int(k)
			file.Float(k)
			file.Bool(k)
			file.StringArray(k)
			file.Float32Array(k)
			file.Int32Array(k)
			v, _ := file.Value(k)
			_ = v.String()
		}
		for _, ti := range file.Tensors() {
			raw, _, err := file.Raw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(raw)) != ti.Size || ti.Offset%int64(file.Alignment()) != 0 {
				t.Fatalf("%s: %d bytes, size %d, offset %d", ti.Name, len(raw), ti.Size, ti.Offset)
			}
			if v, err := file.Float32(ti.Name); err == nil && len(v) != ti.NumElements() {
				t.Fatalf("%s: %d values for %d elements", ti.Name, len(v), ti.NumElements())
			}
		}
	})
}
