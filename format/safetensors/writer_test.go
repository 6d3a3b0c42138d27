package safetensors

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/tensor"
)

func randomTensors(t *testing.T, r *rand.Rand) ([]Tensor, map[string][]float32) {
	t.Helper()
	want := map[string][]float32{}
	var ts []Tensor
	shapes := map[string][]int{
		"model.layers.0.mlp.up_proj.weight":   {7, 5},
		"model.layers.0.input_layernorm.bias": {5},
		"lm_head.weight":                      {3, 2, 4},
		"scalar":                              {},
		"empty":                               {0, 3},
	}
	dts := []DType{F32, BF16, F16, F32, BF16}
	i := 0
	for _, name := range []string{"model.layers.0.mlp.up_proj.weight", "model.layers.0.input_layernorm.bias", "lm_head.weight", "scalar", "empty"} {
		shape := shapes[name]
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		dt := dts[i]
		i++
		tt, err := FromFloat32(name, dt, shape, v)
		if err != nil {
			t.Fatal(err)
		}
		// What the reader must return: the value rounded to the dtype.
		for j := range v {
			switch dt {
			case BF16:
				v[j] = tensor.BF16ToF32(tensor.F32ToBF16(v[j]))
			case F16:
				v[j] = tensor.F16ToF32(tensor.F32ToF16(v[j]))
			}
		}
		want[name] = v
		ts = append(ts, tt)
	}
	// An integer tensor with an odd byte count, to test alignment.
	ts = append(ts, Tensor{Name: "ids", DType: U8, Shape: []int{3}, Data: []byte{7, 8, 9}})
	return ts, want
}

func TestWriteReadRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ts, want := randomTensors(t, r)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	md := map[string]string{"format": "pt", "note": "quote \" and ünïcode"}
	if err := Write(path, ts, md); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !slices.Equal(f.Names(), []string{"empty", "ids", "lm_head.weight", "model.layers.0.input_layernorm.bias", "model.layers.0.mlp.up_proj.weight", "scalar"}) {
		t.Fatalf("Names = %v", f.Names())
	}
	if len(f.Metadata()) != 2 || f.Metadata()["note"] != md["note"] {
		t.Fatalf("Metadata = %v, want %v", f.Metadata(), md)
	}
	for _, tt := range ts {
		info, ok := f.Info(tt.Name)
		if !ok || info.DType != tt.DType || !slices.Equal(info.Shape, tt.Shape) {
			t.Fatalf("%s: info %+v, want %s %v", tt.Name, info, tt.DType, tt.Shape)
		}
		// Data of each tensor starts aligned to its element size.
		if info.Begin%int64(tt.DType.Size()) != 0 {
			t.Errorf("%s starts at %d, not aligned to %d", tt.Name, info.Begin, tt.DType.Size())
		}
		raw, _, _ := f.Raw(tt.Name)
		if !slices.Equal(raw, tt.Data) {
			t.Errorf("%s: raw bytes differ", tt.Name)
		}
		if w, ok := want[tt.Name]; ok {
			got, err := f.Float32(tt.Name)
			if err != nil || !slices.Equal(got, w) {
				t.Errorf("%s = %v (%v), want %v", tt.Name, got, err, w)
			}
		}
	}
	// The header is space-padded so the data area starts 8-aligned.
	b, _ := os.ReadFile(path)
	n := int(b[0]) | int(b[1])<<8
	if n%8 != 0 || b[8+n-1] != '}' && b[8+n-1] != ' ' {
		t.Errorf("header length %d not a multiple of 8 or badly padded", n)
	}
	// Errors name the tensor.
	bad := Tensor{Name: "w", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}
	if err := Write(path, []Tensor{bad}, nil); err == nil {
		t.Error("wrote a tensor whose data does not match its shape")
	}
	if err := Write(path, []Tensor{ts[0], ts[0]}, nil); err == nil {
		t.Error("wrote a duplicate name")
	}
	if _, err := FromFloat32("x", I64, []int{1}, []float32{1}); err == nil {
		t.Error("FromFloat32 accepted I64")
	}
}

func TestWriteShardedRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts, want := randomTensors(t, r)
	dir := t.TempDir()
	if err := WriteSharded(dir, ts, map[string]string{"format": "pt"}, 64); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var shards int
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".safetensors" {
			shards++
		}
	}
	if shards < 3 {
		t.Fatalf("%d shards for a 64-byte limit, want several", shards)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Names()) != len(ts) || s.Metadata()["format"] != "pt" {
		t.Fatalf("Names = %v, metadata %v", s.Names(), s.Metadata())
	}
	if _, err := s.Float32("nope"); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: err = %v, want one naming the folder and tensor", err)
	}
	for _, tt := range ts {
		raw, dt, err := s.Raw(tt.Name)
		if err != nil || dt != tt.DType || !slices.Equal(raw, tt.Data) {
			t.Errorf("%s: %s %v, want %s and the written bytes", tt.Name, dt, err, tt.DType)
		}
		if w, ok := want[tt.Name]; ok {
			got, err := s.Float32(tt.Name)
			if err != nil || !slices.Equal(got, w) {
				t.Errorf("%s = %v (%v), want %v", tt.Name, got, err, w)
			}
		}
	}
}

// TestWriteValues: tensors given as float32 Values (encoded while writing,
// in chunks) make the same file as the same tensors encoded up front.
func TestWriteValues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	var eager, lazy []Tensor
	for i, dt := range []DType{F32, BF16, F16} {
		v := make([]float32, 40000+i) // several chunks, odd lengths
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		name := "t" + string(rune('a'+i))
		e, err := FromFloat32(name, dt, []int{len(v)}, v)
		if err != nil {
			t.Fatal(err)
		}
		eager = append(eager, e)
		lazy = append(lazy, Tensor{Name: name, DType: dt, Shape: []int{len(v)}, Values: v})
	}
	dir := t.TempDir()
	pe, pl := filepath.Join(dir, "e.safetensors"), filepath.Join(dir, "l.safetensors")
	if err := Write(pe, eager, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := Write(pl, lazy, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	be, _ := os.ReadFile(pe)
	bl, _ := os.ReadFile(pl)
	if !slices.Equal(be, bl) {
		t.Fatal("Values and Data give different files")
	}
	bad := []Tensor{{Name: "x", DType: I64, Shape: []int{1}, Values: []float32{1}}}
	if err := Write(pl, bad, nil); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("I64 Values: err = %v", err)
	}
	bad = []Tensor{{Name: "y", DType: F32, Shape: []int{2}, Values: []float32{1}}}
	if err := Write(pl, bad, nil); err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("short Values: err = %v", err)
	}
}

// TestShardedUnlistedTensor: a tensor a shard holds but the index leaves
// out is still among the set's names, so a loader reports it as unused as
// it would in a single file, and its values read.
func TestShardedUnlistedTensor(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ts, _ := randomTensors(t, r)
	dir := t.TempDir()
	if err := WriteSharded(dir, ts, nil, 1<<20); err != nil { // one shard, so the dropped tensor's shard is read
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors.index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	dropped := ts[0].Name
	delete(idx["weight_map"].(map[string]any), dropped)
	raw, _ = json.Marshal(idx)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !slices.Contains(s.Names(), dropped) || len(s.Names()) != len(ts) || !slices.IsSorted(s.Names()) {
		t.Errorf("Names = %v, want all %d tensors sorted, %s among them", s.Names(), len(ts), dropped)
	}
	if got, _, err := s.Raw(dropped); err != nil || !slices.Equal(got, ts[0].Data) {
		t.Errorf("%s: %v", dropped, err)
	}
}
