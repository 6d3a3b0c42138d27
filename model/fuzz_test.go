package model_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/model"
)

// tinyGGUF writes a small random llama-architecture GGUF (hidden 32, one
// layer, 2 heads of 16, 1 KV head, vocabulary of 16 with an SPM tokenizer),
// its matrices stored as typ, and returns its bytes: a fuzz seed small
// enough for the mutator. Metadata keys named in omit are left out.
func tinyGGUF(tb testing.TB, typ gguf.Type, omit ...string) []byte {
	tb.Helper()
	const C, F, V, HD = 32, 32, 16, 16
	r := rand.New(rand.NewPCG(3, 4))
	var tensors []gguf.Tensor
	add := func(name string, t gguf.Type, dims ...int) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.2)
		}
		x, err := gguf.FromFloat32(name, t, dims, v)
		if err != nil {
			tb.Fatal(err)
		}
		tensors = append(tensors, x)
	}
	add("token_embd.weight", gguf.F32, C, V)
	add("output_norm.weight", gguf.F32, C)
	add("blk.0.attn_norm.weight", gguf.F32, C)
	add("blk.0.ffn_norm.weight", gguf.F32, C)
	add("blk.0.attn_q.weight", typ, C, 2*HD)
	add("blk.0.attn_k.weight", typ, C, HD)
	add("blk.0.attn_v.weight", typ, C, HD)
	add("blk.0.attn_output.weight", typ, 2*HD, C)
	add("blk.0.ffn_gate.weight", typ, C, F)
	add("blk.0.ffn_up.weight", typ, C, F)
	add("blk.0.ffn_down.weight", typ, F, C)
	toks := []string{"<unk>", "<s>", "</s>"}
	for i := len(toks); i < V; i++ {
		toks = append(toks, fmt.Sprintf("▁t%c", 'a'+i))
	}
	scores := make([]float32, V)
	types := make([]int32, V)
	for i := range types {
		types[i] = 1
		if i < 3 {
			types[i] = 3
		}
	}
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	path := filepath.Join(tb.TempDir(), "tiny.gguf")
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("llama")},
		{Key: "llama.context_length", Value: u(64)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(float32(1e-5))},
		{Key: "llama.embedding_length", Value: u(C)},
		{Key: "llama.feed_forward_length", Value: u(F)},
		{Key: "llama.block_count", Value: u(1)},
		{Key: "llama.attention.head_count", Value: u(2)},
		{Key: "llama.attention.head_count_kv", Value: u(1)},
		{Key: "tokenizer.ggml.model", Value: gguf.ValueOf("llama")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.ArrayOf(toks)},
		{Key: "tokenizer.ggml.scores", Value: gguf.ArrayOf(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.ArrayOf(types)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: u(0)},
		{Key: "tokenizer.ggml.bos_token_id", Value: u(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: u(2)},
	}
	kvs = slices.DeleteFunc(kvs, func(kv gguf.KV) bool { return slices.Contains(omit, kv.Key) })
	if err := gguf.Write(path, kvs, tensors); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzLoadGGUF feeds mutated small GGUF models to model.Load: any input
// must load or fail with an error, never panic or exhaust memory; a model
// that loads must encode text and run a forward pass on two tokens.
func FuzzLoadGGUF(f *testing.F) {
	f.Add(tinyGGUF(f, gguf.F32))
	f.Add(tinyGGUF(f, gguf.Q8_0))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := model.Load(path, model.LoadOptions{})
		if err != nil || b.LM == nil {
			return
		}
		if b.Tokenizer != nil {
			b.Tokenizer.Encode("ta tb", true)
		}
		V := b.LM.VocabSize()
		out := make([]float32, 2*V)
		if err := b.LM.Forward(b.LM.NewCache(1, 2), []int32{0, int32(V - 1)}, 1, 2, out, false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTinyGGUFSeed checks the fuzz seeds are valid models, so the fuzzer
// starts from inputs that reach the loader's deeper paths.
func TestTinyGGUFSeed(t *testing.T) {
	for _, typ := range []gguf.Type{gguf.F32, gguf.Q8_0} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := os.WriteFile(path, tinyGGUF(t, typ), 0o644); err != nil {
			t.Fatal(err)
		}
		b := load(t, path)
		if b.LM == nil || b.Tokenizer == nil || b.Info.Layers != 1 || b.Gen.BOS != 1 {
			t.Fatalf("%s seed: %+v", typ, b.Info)
		}
	}
}

// FuzzLoadConfig feeds mutated config.json files beside the real weights
// of the tiny fixtures to model.Load: any config must load or fail with an
// error, never panic or exhaust memory; a model that loads must run a
// forward pass on two tokens.
func FuzzLoadConfig(f *testing.F) {
	fixtures := []string{"llama-tiny", "llama3-tiny", "qwen2-tiny", "qwen3-tiny", "gpt2-tiny", "bert-tiny"}
	for i, name := range fixtures {
		f.Add(uint8(i), mustRead(f, filepath.Join(refDir, name, "config.json")))
	}
	// Negative sizes that a default used to let through (a panic for BERT).
	bert := mustRead(f, filepath.Join(refDir, "bert-tiny", "config.json"))
	f.Add(uint8(5), bytes.Replace(bert, []byte(`"type_vocab_size": 2`), []byte(`"type_vocab_size": -3`), 1))
	llama := mustRead(f, filepath.Join(refDir, "llama-tiny", "config.json"))
	f.Add(uint8(0), bytes.Replace(llama, []byte("{"), []byte(`{"head_dim": -8, "max_position_embeddings": -5, `), 1))
	f.Fuzz(func(t *testing.T, which uint8, config []byte) {
		dir := t.TempDir()
		weights, err := filepath.Abs(filepath.Join(refDir, fixtures[int(which)%len(fixtures)], "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(weights, filepath.Join(dir, "model.safetensors")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := model.Load(dir, model.LoadOptions{})
		if err != nil {
			return
		}
		ids := []int32{0, 1}
		switch {
		case b.LM != nil:
			out := make([]float32, 2*b.LM.VocabSize())
			if err := b.LM.Forward(b.LM.NewCache(1, 2), ids, 1, 2, out, false); err != nil {
				t.Fatal(err)
			}
		case b.Encoder != nil:
			out := make([]float32, 2*b.Encoder.VocabSize())
			if err := b.Encoder.Forward(ids, []int32{0, 0}, nil, 1, 2, out); err != nil {
				t.Fatal(err)
			}
		}
	})
}
