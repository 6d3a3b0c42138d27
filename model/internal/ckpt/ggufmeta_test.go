package ckpt

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
)

// TestGGUFMeta checks that one error lists every problem, naming each key
// and the file once, and that present keys and tensors are read.
func TestGGUFMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	t3, err := gguf.FromFloat32("three_d", gguf.F32, []int{2, 2, 2}, make([]float32, 8))
	if err != nil {
		t.Fatal(err)
	}
	emb, err := gguf.FromFloat32("emb", gguf.F32, []int{4, 3}, make([]float32, 12))
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.Write(path, []gguf.KV{
		{Key: "x.good", Value: gguf.ValueOf(uint32(7))},
		{Key: "x.zero", Value: gguf.ValueOf(uint32(0))},
		{Key: "x.text", Value: gguf.ValueOf("seven")},
		{Key: "x.eps", Value: gguf.ValueOf(float32(0.5))},
	}, []gguf.Tensor{t3, emb}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := &GGUFMeta{F: f, Prefix: "x"}
	var good, zero, text, absent, optional, rows, bad int
	optional = 9
	var eps float64
	m.Uint("good", &good, true)
	m.Uint("zero", &zero, true)
	m.Uint("text", &text, true)
	m.Uint("absent", &absent, true)
	m.Uint("optional", &optional, false)
	m.Float("eps", &eps, true)
	m.Rows("emb", &rows)
	m.Rows("three_d", &bad)
	m.Rows("none", &bad)
	if good != 7 || optional != 9 || eps != 0.5 || rows != 3 {
		t.Errorf("read good %d, optional %d, eps %v, rows %d", good, optional, eps, rows)
	}
	err = m.Err()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"x.zero is 0", `"x.text"`, `missing key "x.absent"`, "three_d has dimensions [2 2 2]", "tensor none is missing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, path) != 1 || strings.Contains(msg, "optional") {
		t.Errorf("error %q names the file %d times or reports the optional key", msg, strings.Count(msg, path))
	}
	if (&GGUFMeta{F: f, Prefix: "x"}).Err() != nil {
		t.Error("an empty GGUFMeta reports an error")
	}
}
