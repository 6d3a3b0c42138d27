package model_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/format/gguf"
)

// q4kmExpected is testdata/ggml/llama-q4km/expected.json (tools/ggmlref).
type q4kmExpected struct {
	Tensors []struct {
		Name          string `json:"name"`
		Type          string `json:"type"`
		DequantSHA256 string `json:"dequant_sha256"`
	} `json:"tensors"`
	InputIDs    []int32   `json:"input_ids"`
	LogitsF32   []float32 `json:"logits_llamacpp_dequantised_f32"`
	LogitsQuant []float32 `json:"logits_llamacpp_quantised"`
}

// maxAbsDiff is the largest |a[i]-b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestGGUFQ4KMFromLlamaCpp loads a tiny llama (hidden 256, attn_output and
// ffn_down rows of 64) that llama.cpp's own llama_model_quantize made
// Q4_K_M, so the file mixes K-quants with the Q5_0/Q8_0 that llama.cpp
// falls back to for rows that do not fill a 256-value super-block. It
// checks, in turn:
//  1. the file holds that mix (Q4_K, Q6_K, Q5_0, Q8_0 and F32 norms);
//  2. every tensor dequantises to exactly the floats of ggml's
//     dequantize_row_* (SHA-256 of the float32 bytes, recorded by the
//     generator from ggml's output);
//  3. the logits model.Load gives for the quantised file equal, bit for
//     bit, those of an F32 GGUF with the same metadata holding those
//     dequantised weights: the loader applies each tensor's own type;
//  4. they agree with llama.cpp's logits for an F32 file of ggml's
//     dequantisation (F32 KV cache) to float32 summation-order error, a
//     bound tighter than the change llama.cpp's Q8_K/Q8_0 activation
//     quantisation makes; and with llama.cpp's logits for the quantised
//     file itself within that larger change.
func TestGGUFQ4KMFromLlamaCpp(t *testing.T) {
	dir := filepath.Join("..", "testdata", "ggml", "llama-q4km")
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e q4kmExpected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	infos := f.Tensors()
	if len(infos) != len(e.Tensors) {
		t.Fatalf("%d tensors, expected.json lists %d", len(infos), len(e.Tensors))
	}
	count := map[gguf.Type]int{}
	var tensors []gguf.Tensor
	for i, ti := range infos {
		want := e.Tensors[i]
		if ti.Name != want.Name || ti.Type.String() != want.Type {
			t.Fatalf("tensor %d is %s %s, expected.json says %s %s", i, ti.Name, ti.Type, want.Name, want.Type)
		}
		count[ti.Type]++
		v, err := f.Float32(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		b := gguf.EncodeF32(v)
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want.DequantSHA256 {
			t.Errorf("%s (%s): dequantised values differ from ggml's", ti.Name, ti.Type)
		}
		tensors = append(tensors, gguf.Tensor{Name: ti.Name, Type: gguf.F32, Dims: ti.Dims, Data: b})
	}
	for _, typ := range []gguf.Type{gguf.F32, gguf.Q4_K, gguf.Q6_K, gguf.Q5_0, gguf.Q8_0} {
		if count[typ] == 0 {
			t.Errorf("no %s tensor: the fixture no longer mixes the types this test is for (%v)", typ, count)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var kvs []gguf.KV
	for _, k := range f.Keys() {
		v, _ := f.Value(k)
		if k == "general.file_type" {
			v = gguf.ValueOf(uint32(0)) // LLAMA_FTYPE_ALL_F32
		}
		kvs = append(kvs, gguf.KV{Key: k, Value: v})
	}
	twin := filepath.Join(t.TempDir(), "dequantised-f32.gguf")
	if err := gguf.Write(twin, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	got := forward(t, load(t, path), e.InputIDs)
	sameLogits(t, forward(t, load(t, twin), e.InputIDs), got, "from the Q4_K_M file")

	// llama.cpp on the F32 file: the same weights, another forward
	// (summation order, SIMD exp) in float32. Logits are O(1).
	const tolF32 = 2e-5
	dF32 := maxAbsDiff(got, e.LogitsF32)
	dQuant := maxAbsDiff(got, e.LogitsQuant)
	dActs := maxAbsDiff(e.LogitsF32, e.LogitsQuant)
	t.Logf("max |logit - llama.cpp|: dequantised F32 %.3g, quantised file %.3g (llama.cpp's own quantised-activation change: %.3g)", dF32, dQuant, dActs)
	if dF32 > tolF32 {
		t.Errorf("logits differ from llama.cpp's for ggml's dequantised weights by %g > %g", dF32, tolF32)
	}
	if dActs < 10*tolF32 {
		t.Errorf("llama.cpp's quantised-activation logits differ from its F32 ones by only %g: the F32 bound %g proves little", dActs, tolF32)
	}
	// llama.cpp's quantised file rounds each matmul's activations to
	// 8 bits (Q8_K blocks of 256, Q8_0 of 32); that moves its logits by
	// dActs, so ours, computed without it, lie about that far away.
	if dQuant > 2*dActs {
		t.Errorf("logits differ from llama.cpp's for the quantised file by %g, over twice its activation rounding %g", dQuant, dActs)
	}
}
