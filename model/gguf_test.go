package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/llama"
)

// f32Tensor is an F32 GGUF tensor of v with shape given outermost first,
// as safetensors and PyTorch give it (GGUF lists dimensions innermost
// first).
func f32Tensor(t testing.TB, name string, shape []int, v []float32) gguf.Tensor {
	t.Helper()
	dims := make([]int, len(shape))
	for i, d := range shape {
		dims[len(dims)-1-i] = d
	}
	gt, err := gguf.FromFloat32(name, gguf.F32, dims, v)
	if err != nil {
		t.Fatal(err)
	}
	return gt
}

// writeGGUF converts a tiny HF llama-family folder into a GGUF file as
// llama.cpp's convert_hf_to_gguf.py does: GGUF tensor names, q/k rows
// permuted for interleaved RoPE when arch is "llama", F32 data. Metadata
// keys named in omit (without the arch prefix) are left out; extra
// key-values are appended.
func writeGGUF(t testing.TB, dir, arch, out string, omit []string, extra ...gguf.KV) {
	t.Helper()
	c, err := llama.ParseConfig(mustRead(t, filepath.Join(dir, "config.json")), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rename := strings.NewReplacer(
		"model.embed_tokens.", "token_embd.", "model.norm.", "output_norm.", "lm_head.", "output.",
		"model.layers.", "blk.", "input_layernorm", "attn_norm", "post_attention_layernorm", "ffn_norm",
		"self_attn.q_proj", "attn_q", "self_attn.k_proj", "attn_k", "self_attn.v_proj", "attn_v",
		"self_attn.o_proj", "attn_output", "self_attn.q_norm", "attn_q_norm", "self_attn.k_norm", "attn_k_norm",
		"mlp.gate_proj", "ffn_gate", "mlp.up_proj", "ffn_up", "mlp.down_proj", "ffn_down")
	var tensors []gguf.Tensor
	for _, name := range set.Names() {
		info, _ := set.Info(name)
		v, err := set.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		cols := info.Shape[len(info.Shape)-1]
		if len(info.Shape) == 1 {
			cols = 1
		}
		if arch == "llama" {
			switch {
			case strings.Contains(name, "q_proj"):
				llama.PermuteQK(v, c.NumHeads, cols)
			case strings.Contains(name, "k_proj"):
				llama.PermuteQK(v, c.NumKVHeads, cols)
			}
		}
		tensors = append(tensors, f32Tensor(t, rename.Replace(name), info.Shape, v))
	}
	if r := c.RopeScaling; r != nil {
		// llama.cpp stores Llama 3's scaling as per-frequency divisors.
		div := kernels.Llama3RoPEDivisors(c.HeadDim, c.RopeTheta, r.Factor, r.LowFreqFactor, r.HighFreqFactor, r.OriginalMaxPositionEmbeddings)
		gt, err := gguf.FromFloat32("rope_freqs.weight", gguf.F32, []int{len(div)}, div)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, gt)
	}
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf(arch)},
		{Key: arch + ".context_length", Value: u(c.MaxPositions)},
		{Key: arch + ".embedding_length", Value: u(c.HiddenSize)},
		{Key: arch + ".feed_forward_length", Value: u(c.IntermediateSize)},
		{Key: arch + ".block_count", Value: u(c.NumLayers)},
		{Key: arch + ".attention.head_count", Value: u(c.NumHeads)},
		{Key: arch + ".attention.head_count_kv", Value: u(c.NumKVHeads)},
		{Key: arch + ".attention.key_length", Value: u(c.HeadDim)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: gguf.ValueOf(float32(c.RMSNormEps))},
		{Key: arch + ".rope.freq_base", Value: gguf.ValueOf(float32(c.RopeTheta))},
	}
	kvs = slices.DeleteFunc(kvs, func(kv gguf.KV) bool { return slices.Contains(omit, strings.TrimPrefix(kv.Key, arch+".")) })
	kvs = append(kvs, extra...)
	if err := gguf.Write(out, kvs, tensors); err != nil {
		t.Fatal(err)
	}
}

// TestGGUFMatchesSafetensors writes GGUF files from the tiny llama (q/k
// permuted, so the loader must permute back), llama3 (tied, rope_freqs
// divisors instead of rope_scaling), qwen2 (biases, not permuted)
// and qwen3 (q/k norms) fixtures and checks their logits equal the
// safetensors folder's.
func TestGGUFMatchesSafetensors(t *testing.T) {
	for _, tc := range []struct{ dir, arch string }{{"llama-tiny", "llama"}, {"llama3-tiny", "llama"}, {"qwen2-tiny", "qwen2"}, {"qwen3-tiny", "qwen3"}} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(refDir, tc.dir)
			path := filepath.Join(t.TempDir(), tc.dir+".gguf")
			writeGGUF(t, dir, tc.arch, path, nil)
			hf, gg := load(t, dir), load(t, path)
			if gg.Info.Format != "gguf" || gg.Arch != hf.Arch || gg.Info.Params != hf.Info.Params {
				t.Fatalf("gguf info %+v vs %+v", gg.Info, hf.Info)
			}
			ids := readExpected(t, dir).InputIDs[0]
			sameLogits(t, forward(t, hf, ids), forward(t, gg, ids), "through GGUF")
		})
	}
}

// TestGGUFPermutationIsApplied guards the test above: the llama GGUF's q
// rows really are stored in another order than the safetensors ones, so
// equal logits prove the loader permutes them back.
func TestGGUFPermutationIsApplied(t *testing.T) {
	dir := filepath.Join(refDir, "llama-tiny")
	path := filepath.Join(t.TempDir(), "l.gguf")
	writeGGUF(t, dir, "llama", path, nil)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for _, n := range [][2]string{{"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"}, {"blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight"}} {
		g, _ := f.Float32(n[0])
		h, _ := set.Float32(n[1])
		if fmt.Sprint(g) == fmt.Sprint(h) {
			t.Fatalf("%s is stored unpermuted", n[0])
		}
	}
}

// TestGGUFGPT2 converts gpt2-tiny as convert_hf_to_gguf.py does (Conv1D
// weights transposed to (Out, In), GGUF names) and checks equal logits.
func TestGGUFGPT2(t *testing.T) {
	dir := filepath.Join(refDir, "gpt2-tiny")
	path := gpt2GGUF(t, nil)
	ids := readExpected(t, dir).InputIDs[0]
	sameLogits(t, forward(t, load(t, dir), ids), forward(t, load(t, path), ids), "through GGUF")
}

// gpt2GGUF writes gpt2-tiny as convert_hf_to_gguf.py does (Conv1D weights
// transposed to (Out, In), GGUF names) with head, when not nil, as
// output.weight (V, C), and returns the file's path.
func gpt2GGUF(t *testing.T, head []float32) string {
	t.Helper()
	set, err := safetensors.OpenDir(filepath.Join(refDir, "gpt2-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rename := strings.NewReplacer("wte.", "token_embd.", "wpe.", "position_embd.", "ln_f.", "output_norm.", "h.", "blk.",
		"ln_1", "attn_norm", "ln_2", "ffn_norm", "attn.c_attn", "attn_qkv", "attn.c_proj", "attn_output",
		"mlp.c_fc", "ffn_up", "mlp.c_proj", "ffn_down")
	var tensors []gguf.Tensor
	add := func(name string, shape []int, v []float32) { tensors = append(tensors, f32Tensor(t, name, shape, v)) }
	for _, name := range set.Names() {
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue
		}
		info, _ := set.Info(name)
		v, _ := set.Float32(name)
		shape := info.Shape
		if strings.HasPrefix(name, "h.") && len(shape) == 2 {
			tv := make([]float32, len(v))
			for r := 0; r < shape[0]; r++ {
				for c := 0; c < shape[1]; c++ {
					tv[c*shape[0]+r] = v[r*shape[1]+c]
				}
			}
			v, shape = tv, []int{shape[1], shape[0]}
		}
		add(rename.Replace(name), shape, v)
	}
	if head != nil {
		add("output.weight", []int{128, 48}, head)
	}
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	path := filepath.Join(t.TempDir(), "gpt2.gguf")
	if err := gguf.Write(path, []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("gpt2")},
		{Key: "gpt2.context_length", Value: u(32)}, {Key: "gpt2.embedding_length", Value: u(48)},
		{Key: "gpt2.feed_forward_length", Value: u(192)}, {Key: "gpt2.block_count", Value: u(2)},
		{Key: "gpt2.attention.head_count", Value: u(4)},
		{Key: "gpt2.attention.layer_norm_epsilon", Value: gguf.ValueOf(float32(1e-5))},
	}, tensors); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGGUFOptionalKeys drops the metadata keys llama.cpp treats as
// optional from a llama-tiny GGUF (rope.freq_base, attention.key_length,
// attention.head_count_kv where it equals head_count, and
// general.alignment, which gguf.Write leaves out unless given) and checks
// the loader fills llama.cpp's defaults: the logits still equal the
// safetensors folder's (rope_theta 10000, head_dim hidden/heads). A file
// with a non-default alignment must give the same logits too. As a guard,
// a freq_base other than the default changes the logits, so the defaults
// are what make them match.
func TestGGUFOptionalKeys(t *testing.T) {
	dir := filepath.Join(refDir, "llama-tiny")
	hf := load(t, dir)
	if hf.Info.HeadDim != 16 || hf.Info.KVHeads != 2 {
		t.Fatalf("llama-tiny changed: %+v", hf.Info)
	}
	ids := readExpected(t, dir).InputIDs[0]
	want := forward(t, hf, ids)
	for _, tc := range []struct {
		name      string
		omit      []string
		extra     []gguf.KV
		alignment int
		same      bool
	}{
		{"defaults", []string{"rope.freq_base", "attention.key_length"}, nil, 32, true},
		{"alignment 64", nil, []gguf.KV{{Key: gguf.AlignmentKey, Value: gguf.ValueOf(uint32(64))}}, 64, true},
		{"freq_base 500000", []string{"rope.freq_base"}, []gguf.KV{{Key: "llama.rope.freq_base", Value: gguf.ValueOf(float32(500000))}}, 32, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "l.gguf")
			writeGGUF(t, dir, "llama", path, tc.omit, tc.extra...)
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.omit {
				replaced := slices.ContainsFunc(tc.extra, func(kv gguf.KV) bool { return kv.Key == "llama."+k })
				if f.Has("llama."+k) != replaced {
					t.Fatalf("llama.%s was written", k)
				}
			}
			if f.Has(gguf.AlignmentKey) != (tc.alignment != gguf.DefaultAlignment) || f.Alignment() != tc.alignment {
				t.Fatalf("alignment %d (key present %v), want %d", f.Alignment(), f.Has(gguf.AlignmentKey), tc.alignment)
			}
			f.Close()
			got := forward(t, load(t, path), ids)
			var maxDiff float64
			for i := range got {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
			}
			if tc.same && maxDiff != 0 {
				t.Errorf("logits differ from the safetensors folder's by %g", maxDiff)
			}
			if !tc.same && maxDiff < 1e-3 {
				t.Errorf("logits differ by only %g: the freq_base key is ignored", maxDiff)
			}
		})
	}
}

// TestGGUFStoriesDefaults checks the real stories260K GGUF, which omits
// rope.freq_base, general.alignment and the tokenizer's add_bos_token and
// add_space_prefix flags: it loads with llama.cpp's defaults (theta 10000,
// alignment 32, BOS added, a space prefix), as its config and tokenizer
// from the Hugging Face folder say.
func TestGGUFStoriesDefaults(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K")
	path := filepath.Join(dir, "gguf", "stories260K-f32.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"llama.rope.freq_base", gguf.AlignmentKey, "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_space_prefix"} {
		if f.Has(k) {
			t.Errorf("the fixture now has %s: this test no longer checks its default", k)
		}
	}
	if f.Alignment() != 32 {
		t.Errorf("alignment %d, want the default 32", f.Alignment())
	}
	f.Close()
	gg, hf := load(t, path), load(t, filepath.Join(dir, "hf"))
	if gg.Gen.BOS != 1 || !gg.Gen.AddBOS || fmt.Sprint(gg.Gen.EOS) != "[2]" {
		t.Errorf("gguf generation config %+v, want BOS 1 added, EOS [2]", gg.Gen)
	}
	const text = "Once upon a time, Lily"
	if a, b := gg.Tokenizer.Encode(text, true), hf.Tokenizer.Encode(text, true); fmt.Sprint(a) != fmt.Sprint(b) || a[0] != 1 {
		t.Errorf("gguf tokens %v, hf tokens %v", a, b)
	}
	if gg.Info.ContextLength != 512 || gg.Info.HeadDim != 8 || gg.Info.KVHeads != 4 {
		t.Errorf("gguf info %+v", gg.Info)
	}
}

// TestGGUFSpecialIDDefaults drops tokenizer.ggml.{unknown,bos,eos}_token_id
// from a llama GGUF whose token types mark no token unknown: as in
// llama.cpp, the SentencePiece vocabulary takes <unk> 0, <s> 1, </s> 2,
// so the file loads, BOS is added and generation stops at 2.
func TestGGUFSpecialIDDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	data := tinyGGUF(t, gguf.F32, "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := load(t, path)
	sp := b.Tokenizer.Specials()
	if sp.UNK != 0 || sp.BOS != 1 || sp.EOS != 2 {
		t.Errorf("specials %+v, want UNK 0, BOS 1, EOS 2", sp)
	}
	if b.Gen.BOS != 1 || !b.Gen.AddBOS || !slices.Equal(b.Gen.EOS, []int{2}) {
		t.Errorf("generation config %+v, want BOS 1 added, EOS [2]", b.Gen)
	}
	if ids := b.Tokenizer.Encode("tc", true); len(ids) == 0 || ids[0] != 1 {
		t.Errorf("Encode(tc) = %v, want BOS 1 first", ids)
	}
}

// TestGGUFRequiredKeys: llama.cpp refuses a llama-family GGUF without its
// context length or RMS epsilon (Qwen's epsilon differs from Llama's, so no
// default can stand in); so does loft, naming the key.
func TestGGUFRequiredKeys(t *testing.T) {
	for _, key := range []string{"llama.context_length", "llama.attention.layer_norm_rms_epsilon"} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := os.WriteFile(path, tinyGGUF(t, gguf.F32, key), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := model.Load(path, model.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), path) {
			t.Errorf("without %s: %v", key, err)
		}
	}
}

// encoderOnly checks that got, bert-tiny loaded without its masked-LM
// head (how says from where), encodes the fixture batch exactly as the
// safetensors folder does, that Forward reports the missing head, that
// LoRA is offered no head module and that the head's parameters are not
// counted.
func encoderOnly(t *testing.T, got *model.Bundle, how string) {
	t.Helper()
	dir := filepath.Join(refDir, "bert-tiny")
	ref, e := load(t, dir), readExpected(t, dir)
	B, T := len(e.InputIDs), len(e.InputIDs[0])
	ids, types, lens := e.batch()
	want, err := ref.Encoder.Encode(ids, types, lens, B, T)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want)
	have, err := got.Encoder.Encode(ids, types, lens, B, T)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, want, have, how)
	scores := make([]float32, B*T*got.Encoder.VocabSize())
	if err := got.Encoder.Forward(ids, types, lens, B, T, scores); err == nil || !strings.Contains(err.Error(), "masked-LM head") {
		t.Errorf("%s: Forward without the MLM head: %v", how, err)
	}
	for _, name := range got.Info.LinearModules {
		if strings.HasPrefix(name, "cls.") {
			t.Errorf("%s: head module %s offered", how, name)
		}
	}
	if head := 32*32 + 32 + 2*32 + 128; ref.Info.Params-got.Info.Params != head || got.Info.Tied {
		t.Errorf("%s: params %d, with the head %d, want the head's %d fewer; tied %v", how, got.Info.Params, ref.Info.Params, head, got.Info.Tied)
	}
}

// writeBERTGGUF converts bert-tiny as llama.cpp's converter does: GGUF
// names, the masked-LM head, pooler and position_ids dropped, and a
// reranker's pooler (cls.weight), which loft does not use, added. Metadata
// keys named in omit are left out.
func writeBERTGGUF(t *testing.T, omit ...string) string {
	t.Helper()
	set, err := safetensors.OpenDir(filepath.Join(refDir, "bert-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rename := strings.NewReplacer("bert.embeddings.word_embeddings.", "token_embd.",
		"bert.embeddings.position_embeddings.", "position_embd.", "bert.embeddings.token_type_embeddings.", "token_types.",
		"bert.embeddings.LayerNorm.", "token_embd_norm.", "bert.encoder.layer.", "blk.",
		".attention.self.query.", ".attn_q.", ".attention.self.key.", ".attn_k.", ".attention.self.value.", ".attn_v.",
		".attention.output.dense.", ".attn_output.", ".attention.output.LayerNorm.", ".attn_output_norm.",
		".intermediate.dense.", ".ffn_up.", ".output.dense.", ".ffn_down.", ".output.LayerNorm.", ".layer_output_norm.")
	tensor := func(name string, shape []int, v []float32) gguf.Tensor { return f32Tensor(t, name, shape, v) }
	var tensors []gguf.Tensor
	for _, name := range set.Names() {
		if strings.HasPrefix(name, "cls.") || strings.HasPrefix(name, "bert.pooler.") || strings.HasSuffix(name, "position_ids") {
			continue
		}
		info, _ := set.Info(name)
		v, _ := set.Float32(name)
		tensors = append(tensors, tensor(rename.Replace(name), info.Shape, v))
	}
	tensors = append(tensors, tensor("cls.weight", []int{32, 32}, make([]float32, 32*32)))
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	var kvs []gguf.KV
	for _, kv := range []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValueOf("bert")},
		{Key: "bert.context_length", Value: u(32)}, {Key: "bert.embedding_length", Value: u(32)},
		{Key: "bert.feed_forward_length", Value: u(64)}, {Key: "bert.block_count", Value: u(2)},
		{Key: "bert.attention.head_count", Value: u(4)},
		{Key: "bert.attention.layer_norm_epsilon", Value: gguf.ValueOf(float32(1e-12))},
	} {
		if !slices.Contains(omit, kv.Key) {
			kvs = append(kvs, kv)
		}
	}
	path := filepath.Join(t.TempDir(), "bert.gguf")
	if err := gguf.Write(path, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGGUFBERT loads bert-tiny through GGUF, which holds the encoder alone,
// and checks that it encodes exactly as from safetensors, has no masked-LM
// head (Forward says so) and offers no head modules to LoRA.
func TestGGUFBERT(t *testing.T) {
	got := load(t, writeBERTGGUF(t))
	if got.Arch != "bert" || got.Encoder == nil || got.Info.Format != "gguf" {
		t.Fatalf("arch %q, encoder %v, format %q", got.Arch, got.Encoder, got.Info.Format)
	}
	encoderOnly(t, got, "through GGUF")
	if _, err := loadErr(writeBERTGGUF(t, "bert.block_count")); err == nil || !strings.Contains(err.Error(), "bert.block_count") {
		t.Errorf("missing bert.block_count: %v", err)
	}
}

// TestGGUFUpperCaseExtension: a file named .GGUF loads as GGUF, as the
// Hub resolver already took it.
func TestGGUFUpperCaseExtension(t *testing.T) {
	src := testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf")
	link := filepath.Join(t.TempDir(), "STORIES.GGUF")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(link, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.LM == nil || b.Info.Format != "gguf" {
		t.Errorf("loaded %+v", b.Info)
	}
}

// TestGGUFEndOfGeneration: llama.cpp stops generation at every token of
// its end-of-generation set (llama_vocab::impl::load, special_eog_ids): the
// EOS (its default when the file has no id), the EOT and EOM ids, the FIM
// pad/repo/file-separator tokens, and every token whose text is one of its
// end-of-turn texts ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", ...),
// whatever ids the file gives ("</s>" among them); "<|end|>" is left out beside "<|return|>"
// and "<|call|>" (gpt-oss). A GGUF bundle's stop ids are that set, EOS
// first.
func TestGGUFEndOfGeneration(t *testing.T) {
	tiny := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := os.WriteFile(tiny, tinyGGUF(t, gguf.F32, "tokenizer.ggml.eos_token_id"), 0o644); err != nil {
		t.Fatal(err)
	}
	withTokens := func(texts map[int]string, extra ...gguf.KV) string {
		out := filepath.Join(t.TempDir(), "m.gguf")
		rewriteGGUF(t, tiny, out, func(k string, v gguf.Value) gguf.Value {
			if k != "tokenizer.ggml.tokens" {
				return v
			}
			toks := slices.Clone(v.Interface().([]string))
			for id, s := range texts {
				toks[id] = s
			}
			return gguf.ArrayOf(toks)
		}, extra...)
		return out
	}
	u := func(x int) gguf.Value { return gguf.ValueOf(uint32(x)) }
	for _, c := range []struct {
		name  string
		texts map[int]string
		extra []gguf.KV
		want  []int
	}{
		{"no id keys", nil, nil, []int{2}},
		{"by text", map[int]string{3: "<|endoftext|>", 4: "<|im_end|>", 5: "<|fim_pad|>", 6: "<|eot_id|>", 7: "<|im_start|>"}, nil, []int{2, 3, 4, 5, 6}},
		{"eot and eom ids", nil, []gguf.KV{{Key: "tokenizer.ggml.eot_token_id", Value: u(9)}, {Key: "tokenizer.ggml.eom_token_id", Value: u(8)}}, []int{2, 9, 8}},
		{"eot before the others", map[int]string{3: "<|endoftext|>"}, []gguf.KV{{Key: "tokenizer.ggml.eot_token_id", Value: u(9)}}, []int{2, 9, 3}},
		{"eos id", map[int]string{5: "<|end_of_text|>"}, []gguf.KV{{Key: "tokenizer.ggml.eos_token_id", Value: u(7)}}, []int{7, 2, 5}},
		{"gpt-oss", map[int]string{3: "<|return|>", 4: "<|call|>", 5: "<|end|>"}, nil, []int{2, 3, 4}},
		{"<|end|> alone", map[int]string{5: "<|end|>"}, nil, []int{2, 5}},
		{"solar open", map[int]string{3: "<|calls|>", 4: "<|flush|>", 5: "<|end|>"}, nil, []int{2, 3, 4}},
		{"gemma 4", map[int]string{2: "<eos>", 5: "</s>", 6: "<|tool_response>"}, nil, []int{2, 6}},
		{"</s> without <|tool_response>", map[int]string{2: "<eos>", 5: "</s>"}, nil, []int{2, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := load(t, withTokens(c.texts, c.extra...))
			if !slices.Equal(b.Gen.EOS, c.want) {
				t.Errorf("stop ids %v, want %v", b.Gen.EOS, c.want)
			}
		})
	}
}

// TestGGUFLlamaAttentionBias: llama.cpp's llama architecture takes q, k, v
// and output biases when the file has them (create_tensor with
// TENSOR_NOT_REQUIRED), and convert_hf_to_gguf.py permutes the q and k
// biases with their weights. A llama GGUF converted from a checkpoint with
// attention_bias true must load and give the safetensors folder's logits;
// so must one with q/k/v biases and no output bias, against the folder
// with a zero output bias.
func TestGGUFLlamaAttentionBias(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	biases := func(zeroO bool) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			for l := range 2 {
				for _, p := range []struct {
					name string
					n    int
				}{{"q_proj", 64}, {"k_proj", 32}, {"v_proj", 32}, {"o_proj", 64}} {
					v := make([]float32, p.n)
					for i := range v {
						if !zeroO || p.name != "o_proj" {
							v[i] = float32(r.NormFloat64() * 0.5)
						}
					}
					x, err := safetensors.FromFloat32(fmt.Sprintf("model.layers.%d.self_attn.%s.bias", l, p.name), safetensors.F32, []int{p.n}, v)
					if err != nil {
						t.Fatal(err)
					}
					ts = append(ts, x)
				}
			}
			return ts
		}
	}
	withBias := func(s string) string {
		return strings.Replace(s, `"attention_bias": false`, `"attention_bias": true`, 1)
	}
	ids := readExpected(t, filepath.Join(refDir, "llama-tiny")).InputIDs[0]
	for _, c := range []struct {
		name  string
		zeroO bool
	}{{"q, k, v and output biases", false}, {"q, k and v biases", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := mutated(t, withBias, biases(c.zeroO))
			path := filepath.Join(t.TempDir(), "b.gguf")
			writeGGUF(t, dir, "llama", path, nil)
			if c.zeroO {
				rewriteGGUFTensors(t, path, func(ts []gguf.Tensor) []gguf.Tensor {
					return slices.DeleteFunc(ts, func(x gguf.Tensor) bool { return strings.HasSuffix(x.Name, "attn_output.bias") })
				})
			}
			hf, gg := load(t, dir), load(t, path)
			sameLogits(t, forward(t, hf, ids), forward(t, gg, ids), "llama GGUF with attention biases")
		})
	}
}

// TestGGUFRopeFreqsWithLinearScaling: llama.cpp applies a file's linear
// scaling factor (rope.scaling.factor, freq_scale = 1/factor) on top of
// its rope_freqs divisors (ggml's rope divides each angle by its
// freq_factor and then scales it), so a llama GGUF with both must run as
// one whose rope_freqs are multiplied by the factor.
func TestGGUFRopeFreqsWithLinearScaling(t *testing.T) {
	dir := filepath.Join(refDir, "llama3-tiny")
	scaled := filepath.Join(t.TempDir(), "scaled.gguf")
	writeGGUF(t, dir, "llama", scaled, nil, gguf.KV{Key: "llama.rope.scaling.factor", Value: gguf.ValueOf(float32(4))})
	folded := filepath.Join(t.TempDir(), "folded.gguf")
	writeGGUF(t, dir, "llama", folded, nil)
	rewriteGGUFTensors(t, folded, func(ts []gguf.Tensor) []gguf.Tensor {
		for i, x := range ts {
			if x.Name != "rope_freqs.weight" {
				continue
			}
			div := make([]float32, x.Dims[0])
			if err := gguf.Dequantize(x.Type, x.Data, div); err != nil {
				t.Fatal(err)
			}
			for j := range div {
				div[j] *= 4
			}
			y, err := gguf.FromFloat32(x.Name, gguf.F32, x.Dims, div)
			if err != nil {
				t.Fatal(err)
			}
			ts[i] = y
		}
		return ts
	})
	ids := readExpected(t, dir).InputIDs[0]
	sameLogits(t, forward(t, load(t, folded), ids), forward(t, load(t, scaled), ids), "rope_freqs with rope.scaling.factor 4")
}

// TestGGUFNoVocab: llama.cpp loads a file whose tokenizer.ggml.model is
// "none" or "no_vocab" as a model without a vocabulary
// (LLAMA_VOCAB_TYPE_NONE); loft loads it without a tokenizer.
func TestGGUFNoVocab(t *testing.T) {
	for _, name := range []string{"none", "no_vocab"} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		data := tinyGGUF(t, gguf.F32, "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rewriteGGUF(t, path, path, nil, gguf.KV{Key: "tokenizer.ggml.model", Value: gguf.ValueOf(name)})
		b := load(t, path)
		if b.LM == nil || b.Tokenizer != nil || b.Gen.BOS != -1 || len(b.Gen.EOS) != 0 {
			t.Errorf("%s: LM %v, tokenizer %v, gen %+v; want a model without a tokenizer", name, b.LM != nil, b.Tokenizer, b.Gen)
		}
	}
}

// TestGGUFNegativeRopeFactor: a GGUF's bad linear scaling factor is
// reported under the file's key, not config.json's rope_scaling.
func TestGGUFNegativeRopeFactor(t *testing.T) {
	tiny := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := os.WriteFile(tiny, tinyGGUF(t, gguf.F32), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	rewriteGGUF(t, tiny, bad, nil, gguf.KV{Key: "llama.rope.scaling.factor", Value: gguf.ValueOf(float32(-2))})
	_, err := model.Load(bad, model.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "llama.rope.scaling.type linear needs a positive factor") || strings.Contains(err.Error(), "rope_scaling") {
		t.Fatalf("got %v, want the GGUF key named", err)
	}
}
