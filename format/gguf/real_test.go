package gguf_test

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
)

func openShared(t *testing.T, name string) *gguf.File {
	t.Helper()
	dir := testutil.SharedDir(t, "models", "stories260K", "gguf")
	f, err := gguf.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRealStories260K(t *testing.T) {
	for _, name := range []string{"stories260K-f32.gguf", "stories260K-q8_0.gguf"} {
		t.Run(name, func(t *testing.T) {
			f := openShared(t, name)
			t.Logf("version %d, alignment %d, data at %d, %d keys, %d tensors",
				f.Version(), f.Alignment(), f.DataOffset(), len(f.Keys()), len(f.Tensors()))
			for _, k := range f.Keys() {
				v, _ := f.Value(k)
				t.Logf("  %-40s %s", k, v)
			}
			for _, ti := range f.Tensors() {
				t.Logf("  %-28s %-5s dims %v offset %d size %d", ti.Name, ti.Type, ti.Dims, ti.Offset, ti.Size)
			}
			if f.Version() != 3 || len(f.Tensors()) != 48 {
				t.Errorf("version %d with %d tensors, want 3 and 48", f.Version(), len(f.Tensors()))
			}
			if arch, err := f.String("general.architecture"); err != nil || arch != "llama" {
				t.Errorf("general.architecture = %q, %v", arch, err)
			}
			if n, err := f.Uint("llama.block_count"); err != nil || n != 5 {
				t.Errorf("llama.block_count = %d, %v", n, err)
			}
			if n, err := f.Uint("llama.context_length"); err != nil || n != 512 {
				t.Errorf("llama.context_length = %d, %v", n, err)
			}
			if eps, err := f.Float("llama.attention.layer_norm_rms_epsilon"); err != nil || math.Abs(eps-1e-5) > 1e-12 {
				t.Errorf("rms epsilon = %g, %v", eps, err)
			}
			toks, err := f.StringArray("tokenizer.ggml.tokens")
			if err != nil || len(toks) != 512 {
				t.Fatalf("tokens: %d, %v", len(toks), err)
			}
			scores, err := f.Float32Array("tokenizer.ggml.scores")
			if err != nil || len(scores) != 512 {
				t.Errorf("scores: %d, %v", len(scores), err)
			}
			types, err := f.Int32Array("tokenizer.ggml.token_type")
			if err != nil || len(types) != 512 {
				t.Errorf("token_type: %d, %v", len(types), err)
			}
			t.Logf("tokens[0:4] = %q, scores[0:4] = %v, types[0:4] = %v", toks[:4], scores[:4], types[:4])
			// A key the file omits (the defaults apply) and a key of
			// the wrong type.
			if _, err := f.Float("llama.rope.freq_base"); !errors.Is(err, gguf.ErrMissingKey) || !strings.Contains(err.Error(), "llama.rope.freq_base") {
				t.Errorf("missing key: err = %v", err)
			}
			if _, err := f.Uint("general.architecture"); err == nil || !strings.Contains(err.Error(), `"general.architecture" is string`) {
				t.Errorf("wrong type: err = %v", err)
			}
			for _, ti := range f.Tensors() {
				v, err := f.Float32(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != ti.NumElements() {
					t.Fatalf("%s: %d values", ti.Name, len(v))
				}
			}
		})
	}
}

// TestRealQ8_0MatchesF32: every Q8_0 tensor of the quantised file is within
// Q8_0's error of the F32 file's tensor: per block of 32, d = max|x|/127 and
// |x - q*f16(d)| <= d/2 + 127*|d - f16(d)| <= d*(0.5 + 127*2^-11).
func TestRealQ8_0MatchesF32(t *testing.T) {
	ff := openShared(t, "stories260K-f32.gguf")
	fq := openShared(t, "stories260K-q8_0.gguf")
	var nq int
	var worst float64 // max error / d
	for _, ti := range fq.Tensors() {
		want, err := ff.Float32(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fq.Float32(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Type != gguf.Q8_0 {
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s) differs from the F32 file", ti.Name, ti.Type)
			}
			continue
		}
		nq++
		for b := 0; b < len(want); b += 32 {
			var amax float64
			for _, x := range want[b : b+32] {
				amax = math.Max(amax, math.Abs(float64(x)))
			}
			d := amax / 127
			for i := b; i < b+32; i++ {
				e := math.Abs(float64(got[i]) - float64(want[i]))
				if e > d*(0.5+127.0/2048)+1e-12 {
					t.Fatalf("%s[%d] = %g, F32 %g: error %g over the bound for d = %g", ti.Name, i, got[i], want[i], e, d)
				}
				if d > 0 {
					worst = math.Max(worst, e/d)
				}
			}
		}
	}
	t.Logf("%d Q8_0 tensors, worst error %.3f d", nq, worst)
	if nq < 30 {
		t.Errorf("only %d Q8_0 tensors", nq)
	}
}

// TestRealGGUFMatchesSafetensors compares the F32 GGUF with the HF
// safetensors of the same weights. GGUF dims are the reverse of the
// safetensors shape with the same data order. q/k are row-permuted in
// llama GGUF files, so they are left out.
func TestRealGGUFMatchesSafetensors(t *testing.T) {
	f := openShared(t, "stories260K-f32.gguf")
	st, err := safetensors.OpenDir(testutil.SharedDir(t, "models", "stories260K", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pairs := map[string]string{
		"token_embd.weight":  "model.embed_tokens.weight",
		"output.weight":      "model.embed_tokens.weight", // tied in HF
		"output_norm.weight": "model.norm.weight",
	}
	for i := 0; i < 5; i++ {
		g := func(s string) string { return "blk." + itoa(i) + "." + s + ".weight" }
		h := func(s string) string { return "model.layers." + itoa(i) + "." + s + ".weight" }
		pairs[g("attn_norm")] = h("input_layernorm")
		pairs[g("ffn_norm")] = h("post_attention_layernorm")
		pairs[g("attn_v")] = h("self_attn.v_proj")
		pairs[g("attn_output")] = h("self_attn.o_proj")
		pairs[g("ffn_gate")] = h("mlp.gate_proj")
		pairs[g("ffn_up")] = h("mlp.up_proj")
		pairs[g("ffn_down")] = h("mlp.down_proj")
	}
	for gname, hname := range pairs {
		ti, ok := f.Tensor(gname)
		if !ok {
			t.Fatalf("GGUF has no %s", gname)
		}
		info, _ := st.Info(hname)
		if !slices.Equal(ti.Shape(), info.Shape) {
			t.Errorf("%s dims %v (shape %v) vs %s shape %v", gname, ti.Dims, ti.Shape(), hname, info.Shape)
			continue
		}
		a, err := f.Float32(gname)
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.Float32(hname)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s != %s", gname, hname)
		}
	}
	t.Logf("%d GGUF tensors equal their safetensors twins", len(pairs))
}

func itoa(i int) string { return string(rune('0' + i)) }
