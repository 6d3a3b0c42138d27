package model_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/model"
)

// mutated copies llama-tiny into a temporary folder, with config.json
// rewritten by editConfig and the tensors by editTensors.
func mutated(t *testing.T, editConfig func(string) string, editTensors func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	return mutatedFixture(t, "llama-tiny", editConfig, editTensors)
}

// mutatedFixture is mutated for the fixture folder name.
func mutatedFixture(t *testing.T, name string, editConfig func(string) string, editTensors func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src := filepath.Join(refDir, name)
	dir := t.TempDir()
	cfg := string(mustRead(t, filepath.Join(src, "config.json")))
	if editConfig != nil {
		cfg = editConfig(cfg)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var ts []safetensors.Tensor
	for _, n := range set.Names() {
		info, _ := set.Info(n)
		v, _ := set.Float32(n)
		tt, err := safetensors.FromFloat32(n, safetensors.F32, info.Shape, v)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	if editTensors != nil {
		ts = editTensors(ts)
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// drop returns a tensor edit that removes the tensor called name.
func drop(name string) func([]safetensors.Tensor) []safetensors.Tensor {
	return func(ts []safetensors.Tensor) []safetensors.Tensor {
		var out []safetensors.Tensor
		for _, x := range ts {
			if x.Name != name {
				out = append(out, x)
			}
		}
		return out
	}
}

func TestBadInput(t *testing.T) {
	extra := func(ts []safetensors.Tensor) []safetensors.Tensor {
		x, _ := safetensors.FromFloat32("model.layers.0.self_attn.rogue.weight", safetensors.F32, []int{2}, []float32{1, 2})
		return append(ts, x)
	}
	reshape := func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i, x := range ts {
			if x.Name == "model.norm.weight" {
				ts[i], _ = safetensors.FromFloat32(x.Name, safetensors.F32, []int{32}, make([]float32, 32))
			}
		}
		return ts
	}
	for _, tc := range []struct {
		name    string
		cfg     func(string) string
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		want    []string
	}{
		{"missing field", func(s string) string { return strings.Replace(s, `"hidden_size": 64,`, "", 1) }, nil,
			[]string{"config.json", "hidden_size"}},
		{"field of the wrong kind", func(s string) string { return strings.Replace(s, `"hidden_size": 64,`, `"hidden_size": "64",`, 1) }, nil,
			[]string{"config.json: bad JSON at line ", `"hidden_size" is a JSON string, want an integer`}},
		{"truncated config", func(s string) string { return s[:len(s)/2] }, nil,
			[]string{"config.json: bad JSON: it ends early", "truncated?"}},
		{"unsupported model_type", func(s string) string { return strings.Replace(s, `"llama"`, `"mamba"`, 1) }, nil,
			[]string{"config.json", `"mamba"`, "unsupported"}},
		{"unsupported act", func(s string) string { return strings.Replace(s, `"silu"`, `"relu"`, 1) }, nil,
			[]string{"config.json", "hidden_act"}},
		{"missing tensor", nil, drop("model.layers.1.mlp.up_proj.weight"),
			[]string{"missing tensors (1): model.layers.1.mlp.up_proj.weight"}},
		{"extra tensor", nil, extra, []string{"unused tensors (1): model.layers.0.self_attn.rogue.weight"}},
		{"wrong shape", nil, reshape, []string{"model.norm.weight has shape [32], want [64]"}},
		{"unsupported dtype", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "model.norm.weight" {
					ts[i] = safetensors.Tensor{Name: x.Name, DType: safetensors.I32, Shape: []int{64}, Data: make([]byte, 4*64)}
				}
			}
			return ts
		}, []string{"model.safetensors", `"model.norm.weight"`, "I32"}},
		{"missing and extra at once", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return extra(drop("lm_head.weight")(ts))
		}, []string{"missing tensors (1): lm_head.weight", "unused tensors (1): model.layers.0.self_attn.rogue.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mutated(t, tc.cfg, tc.tensors)
			_, err := model.Load(dir, model.LoadOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the folder", err)
			}
		})
	}
	if _, err := model.Load(filepath.Join(refDir, "nope"), model.LoadOptions{}); err == nil {
		t.Fatal("missing folder loaded")
	}
}

// TestBadBERT checks the BERT loader's errors: a config missing a field or
// with an unsupported activation names config.json and the field; a
// checkpoint with a missing or an extra tensor gets one error listing it,
// naming the folder.
func TestBadBERT(t *testing.T) {
	extra := func(ts []safetensors.Tensor) []safetensors.Tensor {
		x, _ := safetensors.FromFloat32("bert.encoder.layer.0.rogue.weight", safetensors.F32, []int{2}, []float32{1, 2})
		return append(ts, x)
	}
	for _, tc := range []struct {
		name    string
		cfg     func(string) string
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		want    []string
	}{
		{"missing field", func(s string) string { return strings.Replace(s, `"num_attention_heads": 4,`, "", 1) }, nil,
			[]string{"config.json", "num_attention_heads"}},
		{"unsupported act", func(s string) string { return strings.Replace(s, `"gelu"`, `"relu"`, 1) }, nil,
			[]string{"config.json", "hidden_act", `"relu"`}},
		{"relative positions", func(s string) string { return strings.Replace(s, `"absolute"`, `"relative_key"`, 1) }, nil,
			[]string{"config.json", "position_embedding_type"}},
		// transformers' BERT with is_decoder attends causally
		// (get_extended_attention_mask); the encoder here cannot.
		{"decoder", func(s string) string {
			return strings.Replace(s, `"model_type": "bert",`, `"model_type": "bert", "is_decoder": true,`, 1)
		}, nil,
			[]string{"config.json", "is_decoder"}},
		{"missing tensor", nil, drop("bert.encoder.layer.1.output.dense.weight"),
			[]string{"missing tensors (1): bert.encoder.layer.1.output.dense.weight"}},
		{"missing and extra", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return extra(drop("cls.predictions.bias")(ts))
		}, []string{"missing tensors (1): cls.predictions.bias", "unused tensors (1): bert.encoder.layer.0.rogue.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mutatedFixture(t, "bert-tiny", tc.cfg, tc.tensors)
			_, err := model.Load(dir, model.LoadOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range append(tc.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestGPT2Names loads gpt2-tiny as GPT2LMHeadModel.save_pretrained writes
// it (names under "transformer.", a saved copy of the tied lm_head.weight,
// no causal-mask buffers) and checks the logits equal the fixture's, whose
// names are those of the original GPT-2 checkpoints (no prefix, with
// h.N.attn.bias and masked_bias buffers).
func TestGPT2Names(t *testing.T) {
	dir := mutatedFixture(t, "gpt2-tiny", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
		var out []safetensors.Tensor
		for _, x := range ts {
			if strings.HasSuffix(x.Name, ".attn.bias") || strings.HasSuffix(x.Name, ".attn.masked_bias") {
				continue
			}
			if x.Name == "wte.weight" {
				head := x
				head.Name = "lm_head.weight"
				out = append(out, head)
			}
			x.Name = "transformer." + x.Name
			out = append(out, x)
		}
		return out
	})
	ref, renamed := load(t, filepath.Join(refDir, "gpt2-tiny")), load(t, dir)
	ids := []int32{5, 17, 99, 3, 64}
	sameLogits(t, forward(t, ref, ids), forward(t, renamed, ids), "with transformer. names")
	if renamed.Info.Params != ref.Info.Params {
		t.Errorf("parameters %d, want %d (the saved lm_head is the tied embedding)", renamed.Info.Params, ref.Info.Params)
	}
}

// TestLlamaInvFreqBuffers loads llama-tiny with the rotary inverse
// frequencies that Llama checkpoints saved by transformers 4.28 to 4.30
// carry (model.layers.N.self_attn.rotary_emb.inv_freq, a persistent buffer
// then; transformers ignores it on load): they are ignored, and the
// logits equal the fixture's.
func TestLlamaInvFreqBuffers(t *testing.T) {
	dir := mutated(t, nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range 2 {
			x, err := safetensors.FromFloat32(fmt.Sprintf("model.layers.%d.self_attn.rotary_emb.inv_freq", i), safetensors.F32, []int{8}, make([]float32, 8))
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, x)
		}
		return ts
	})
	ids := []int32{1, 17, 99, 3, 64}
	sameLogits(t, forward(t, load(t, filepath.Join(refDir, "llama-tiny")), ids), forward(t, load(t, dir), ids), "with rotary_emb.inv_freq buffers")
}

// TestLyingSizes gives configs that describe models far larger than their
// checkpoints (a GGUF header, a config.json): loading must fail with an
// error naming the file and the sizes before allocating the weights,
// instead of running out of memory.
func TestLyingSizes(t *testing.T) {
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	emb, err := gguf.FromFloat32("token_embd.weight", gguf.F32, []int{8, 4}, make([]float32, 32))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "huge.gguf")
	if err := gguf.Write(path, []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("llama")},
		{Key: "llama.context_length", Value: u(4096)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(float32(1e-5))},
		{Key: "llama.embedding_length", Value: u(1 << 30)},
		{Key: "llama.feed_forward_length", Value: u(1 << 30)},
		{Key: "llama.block_count", Value: u(1 << 20)},
		{Key: "llama.attention.head_count", Value: u(1 << 10)},
	}, []gguf.Tensor{emb}); err != nil {
		t.Fatal(err)
	}
	_, err = model.Load(path, model.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "hidden 1073741824") || !strings.Contains(err.Error(), "holds only 32") {
		t.Errorf("GGUF header of a huge model: %v", err)
	}

	dir := mutated(t, func(s string) string {
		return strings.Replace(strings.Replace(s, `"hidden_size": 64,`, `"hidden_size": 65536,`, 1), `"intermediate_size": 96,`, `"intermediate_size": 1048576,`, 1)
	}, nil)
	_, err = model.Load(dir, model.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) || !strings.Contains(err.Error(), "hidden 65536, intermediate 1048576") {
		t.Errorf("config.json of a huge model: %v", err)
	}
}

// TestBERTPreTrainingCheckpoint loads bert-tiny with what
// BertForPreTraining checkpoints carry beyond the masked-LM weights (an
// I64 position_ids buffer, the pooler, the next-sentence head and the
// decoder's tied copies): they are ignored, the scores equal the
// fixture's, and the I64 buffer does not count as a weight dtype.
func TestBERTPreTrainingCheckpoint(t *testing.T) {
	dir := mutatedFixture(t, "bert-tiny", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
		f32 := func(name string, shape ...int) safetensors.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			x, err := safetensors.FromFloat32(name, safetensors.F32, shape, make([]float32, n))
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		pos := safetensors.Tensor{Name: "bert.embeddings.position_ids", DType: safetensors.I64, Shape: []int{1, 32}, Data: make([]byte, 8*32)}
		for _, name := range []string{"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"} {
			for _, x := range ts {
				if x.Name == name {
					t.Fatalf("the fixture already has %s", name)
				}
			}
		}
		return append(ts, pos, f32("bert.pooler.dense.weight", 32, 32), f32("bert.pooler.dense.bias", 32),
			f32("cls.seq_relationship.weight", 2, 32), f32("cls.seq_relationship.bias", 2),
			f32("cls.predictions.decoder.weight", 128, 32), f32("cls.predictions.decoder.bias", 128))
	})
	ref, full := load(t, filepath.Join(refDir, "bert-tiny")), load(t, dir)
	if full.Info.DType != "F32" || full.Info.Params != ref.Info.Params {
		t.Errorf("dtype %q, params %d; want F32, %d", full.Info.DType, full.Info.Params, ref.Info.Params)
	}
	sameBERTScores(t, ref, full, "with the pre-training extras")
}

// sameBERTScores checks that two BERT bundles give the same masked-LM
// scores on a few tokens of both types.
func sameBERTScores(t *testing.T, ref, got *model.Bundle, what string) {
	t.Helper()
	ids, types := []int32{5, 17, 99, 3}, []int32{0, 0, 1, 1}
	V := ref.Encoder.VocabSize()
	a, b := make([]float32, len(ids)*V), make([]float32, len(ids)*V)
	if err := ref.Encoder.Forward(ids, types, nil, 1, len(ids), a); err != nil {
		t.Fatal(err)
	}
	if err := got.Encoder.Forward(ids, types, nil, 1, len(ids), b); err != nil {
		t.Fatal(err)
	}
	sameLogits(t, a, b, what)
}

// TestBERTLegacyLayerNormNames loads bert-tiny with its LayerNorm
// parameters named gamma and beta, as bert-base-uncased's checkpoint
// names them: the scores equal the fixture's.
func TestBERTLegacyLayerNormNames(t *testing.T) {
	renamed := 0
	dir := mutatedFixture(t, "bert-tiny", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
		r := strings.NewReplacer(".LayerNorm.weight", ".LayerNorm.gamma", ".LayerNorm.bias", ".LayerNorm.beta")
		for i := range ts {
			if n := r.Replace(ts[i].Name); n != ts[i].Name {
				ts[i].Name = n
				renamed++
			}
		}
		return ts
	})
	if renamed == 0 {
		t.Fatal("the fixture has no LayerNorm tensors to rename")
	}
	ref, old := load(t, filepath.Join(refDir, "bert-tiny")), load(t, dir)
	sameBERTScores(t, ref, old, "with gamma/beta names")
}
