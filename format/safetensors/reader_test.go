package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// build assembles a safetensors file from a header string and a data area,
// by hand, independently of the writer.
func build(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func le32(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func le16(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// handFile is a small valid file with hand-encoded values of each float
// dtype plus an integer tensor and metadata.
func handFile() []byte {
	header := `{"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},` +
		`"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},` +
		`"c":{"dtype":"F16","shape":[3],"data_offsets":[22,28]},` +
		`"d":{"dtype":"I64","shape":[1],"data_offsets":[28,36]},` +
		`"e":{"dtype":"F32","shape":[0,4],"data_offsets":[36,36]}}  `
	var data []byte
	data = append(data, le32(1, -2.5, 0.125, 3e38)...)
	data = append(data, le16(0x3f80, 0xc020, 0x4049)...) // bf16 1, -2.5, 3.140625
	data = append(data, le16(0x3c00, 0xc100, 0x0001)...) // f16 1, -2.5, 2^-24
	data = binary.LittleEndian.AppendUint64(data, uint64(1<<40+7))
	return build(header, data)
}

func TestParseHandBuilt(t *testing.T) {
	f, err := Parse("hand", handFile())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	if f.Metadata()["format"] != "pt" || len(f.Metadata()) != 1 {
		t.Fatalf("Metadata = %v, want {format: pt}", f.Metadata())
	}
	want := map[string][]float32{
		"a": {1, -2.5, 0.125, 3e38},
		"b": {1, -2.5, 3.140625},
		"c": {1, -2.5, 5.9604644775390625e-08},
		"e": {},
	}
	for name, w := range want {
		got, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
		into := make([]float32, len(w))
		if err := f.Float32Into(name, into); err != nil || !slices.Equal(into, w) {
			t.Errorf("Float32Into %s = %v (%v), want %v", name, into, err, w)
		}
		if err := f.Float32Into(name, make([]float32, len(w)+1)); err == nil || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("Float32Into %s with a buffer one too long: err = %v, want one naming the tensor", name, err)
		}
	}
	info, _ := f.Info("a")
	if !slices.Equal(info.Shape, []int{2, 2}) || info.DType != F32 || info.NumElements() != 4 {
		t.Errorf("Info(a) = %+v", info)
	}
	raw, dt, err := f.Raw("d")
	if err != nil || dt != I64 || binary.LittleEndian.Uint64(raw) != 1<<40+7 {
		t.Errorf("Raw(d) = %v %s %v", raw, dt, err)
	}
	if _, err := f.Float32("d"); err == nil || !strings.Contains(err.Error(), `"d"`) {
		t.Errorf("Float32 of I64: err = %v, want one naming the tensor", err)
	}
	if _, err := f.Float32("zz"); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("missing tensor: err = %v", err)
	}
}

// TestParseBadInput feeds files that lie or are corrupt; each must fail with
// an error naming the file and the offending tensor or field.
func TestParseBadInput(t *testing.T) {
	data8 := le32(1, 2)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	cases := []struct {
		name string
		file []byte
		want string // substring of the error besides the file name
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header too long", append(huge, "{}"...), "exceeds the limit"},
		{"header past end", func() []byte { b := build("{}", nil); b[0] = 200; return b }(), "past the end"},
		{"not an object", build(`[1,2]`, nil), "does not start"},
		{"bad JSON", build(`{"a":{"dtype":"F32",`, nil), "header JSON"},
		{"trailing bytes", build(`{}xx`, nil), "stray bytes"},
		{"unknown dtype", build(`{"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}`, data8), `"w": unknown dtype "F17"`},
		{"missing field", build(`{"w":{"dtype":"F32","shape":[2]}}`, data8), `"w": needs`},
		{"negative dim", build(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, data8), `"w": negative`},
		{"offsets past end", build(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8), `"w": data_offsets [0, 16] outside`},
		{"offsets reversed", build(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, data8), `"w": data_offsets`},
		{"negative offset", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, data8), `"w": data_offsets`},
		{"three offsets", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, data8), `"w": data_offsets has 3`},
		{"size mismatch", build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data8), `"w": shape [3] of F32 needs 12 bytes`},
		{"overflowing shape", build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, data8), `"w": shape`},
		{"overlap", build(`{"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), `"v" data_offsets [0, 8] and "w" [4, 8] overlap`},
		{"gap before", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), `"w": data_offsets [4, 8] leave bytes [0, 4)`},
		{"gap between", build(`{"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, le32(1, 2, 3)), `"w": data_offsets [8, 12] leave bytes [4, 8)`},
		{"bytes after", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, data8), "end at byte 4 of the 8-byte data area"},
		{"no tensors, some data", build(`{}`, data8), "end at byte 0 of the 8-byte"},
		{"metadata not string", build(`{"__metadata__":{"format":3}}`, nil), `key "format"`},
		{"shape not ints", build(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, data8), `"w"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.safetensors", c.file)
			if err == nil {
				t.Fatal("parsed without error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "bad.safetensors") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not name the file and %q", msg, c.want)
			}
		})
	}
}

// TestTruncated cuts a valid file at every byte: each prefix must be refused
// with an error, never a panic or a read past the end.
func TestTruncated(t *testing.T) {
	full := handFile()
	if _, err := Parse("full", full); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		// A fresh copy of exactly n bytes, so a read past n would be caught
		// by the race detector or bounds checks.
		buf := append([]byte(nil), full[:n]...)
		if _, err := Parse("cut", buf); err == nil {
			t.Fatalf("prefix of %d/%d bytes parsed without error", n, len(full))
		}
	}
}

func TestOpenRealStories260K(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K", "hf")
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := s.Names()
	t.Logf("%d tensors, metadata %v", len(names), s.Metadata())
	// 5 layers x 9 tensors + embedding + final norm; the head is tied.
	if len(names) != 47 {
		t.Errorf("got %d tensors, want 47", len(names))
	}
	info, ok := s.Info("model.embed_tokens.weight")
	if !ok || !slices.Equal(info.Shape, []int{512, 64}) || info.DType != F32 {
		t.Fatalf("embed_tokens: %+v %v", info, ok)
	}
	if s.Metadata()["format"] != "pt" {
		t.Errorf("metadata format = %q, want pt", s.Metadata()["format"])
	}
	for _, n := range names {
		v, err := s.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := s.Info(n)
		if len(v) != info.NumElements() {
			t.Fatalf("%s: %d values for shape %v", n, len(v), info.Shape)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s holds %g", n, x)
			}
		}
	}
	// RMSNorm weights of a trained model are not all zero or one.
	w, _ := s.Float32("model.norm.weight")
	if w[0] == w[1] && w[1] == w[2] {
		t.Errorf("model.norm.weight looks constant: %v", w[:3])
	}
}

func TestOpenDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("empty folder: err = %v", err)
	}
	a, _ := FromFloat32("a", F32, []int{2}, []float32{1, 2})
	if err := Write(filepath.Join(dir, "s1.safetensors"), []Tensor{a}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ index, want string }{
		{`{"weight_map":{"a":"../s1.safetensors"}}`, `"a": shard "../s1.safetensors"`},
		{`{"weight_map":{"b":"s1.safetensors"}}`, `tensor "b" is not in its shard`},
		{`{"weight_map":{"a":"s2.safetensors"}}`, `tensor "a"`},
		{`{"weight_map":{}}`, "weight_map"},
		{`{"weight_map":`, IndexFileName},
	} {
		if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(c.index), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenDir(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("index %s: err = %v, want %q", c.index, err, c.want)
		}
	}
	// Beside model.safetensors, a (stale) index is not read, as in
	// transformers.
	if err := Write(filepath.Join(dir, SingleFileName), []Tensor{a}, nil); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenDir(dir); err != nil || !slices.Equal(s.Names(), []string{"a"}) {
		t.Errorf("model.safetensors beside a broken index: %v", err)
	}
}

// FuzzSafetensors checks that no input makes Parse panic or hand out a slice
// that disagrees with the tensor's declared size.
func FuzzSafetensors(f *testing.F) {
	f.Add(handFile())
	f.Add(build(`{}`, nil))
	f.Add(build(`{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, le16(1, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, n := range file.Names() {
			info, _ := file.Info(n)
			raw, dt, err := file.Raw(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != info.NumElements()*dt.Size() {
				t.Fatalf("%s: %d bytes for %d elements of %s", n, len(raw), info.NumElements(), dt)
			}
			if v, err := file.Float32(n); err == nil && len(v) != info.NumElements() {
				t.Fatalf("%s: %d floats for %d elements", n, len(v), info.NumElements())
			}
		}
	})
}
