package cli

import (
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/nn"
)

func TestMergeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"merge", "--adapter", "a", "--out", "o"},
		{"merge", "--model", "m", "--out", "o"},
		{"merge", "--model", "m", "--adapter", "a"},
		{"merge", "--model", "m", "--adapter", "a", "--out", "o", "extra"},
	} {
		if code, _, errOut := run(t, args...); code != ExitUsage {
			t.Errorf("%q: code %d, stderr %q", args, code, errOut)
		}
	}
}

// rawTensors reads every tensor of the safetensors file at path as it is
// stored (dtype and bytes).
func rawTensors(t *testing.T, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		raw, dt, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(n)
		ts = append(ts, safetensors.Tensor{Name: n, DType: dt, Shape: info.Shape, Data: slices.Clone(raw)})
	}
	return ts
}

// loadWith loads a model folder, with an adapter applied unless adapter
// is "".
func loadWith(t *testing.T, dir, adapter string) *model.Bundle {
	t.Helper()
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if adapter != "" {
		if _, err := lora.Load(adapter, b.Slots); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// logitsOf runs ids (1, T) through a model folder, optionally with an
// adapter applied.
func logitsOf(t *testing.T, dir, adapter string, ids []int32) []float32 {
	t.Helper()
	b := loadWith(t, dir, adapter)
	out := make([]float32, len(ids)*b.LM.VocabSize())
	if err := b.LM.Forward(b.LM.NewCache(1, len(ids)), ids, 1, len(ids), out, false); err != nil {
		t.Fatal(err)
	}
	return out
}

// savedAdapter applies a seeded adapter with random B to the model in dir
// and saves it, returning the adapter folder.
func savedAdapter(t *testing.T, dir string, targets []string) string {
	t.Helper()
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ad, err := lora.Apply(b.Slots, lora.Config{R: 4, Alpha: 8, Targets: targets, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range ad.Modules {
		nn.FillNormal(l.B, 0.05, rng)
	}
	out := filepath.Join(t.TempDir(), "adapter")
	if err := ad.Save(out, dir); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMerge merges adapters into the GPT-2 (Conv1D, F32, buffers) and BF16
// Llama fixtures and checks the folder: the same files, tensor names,
// shapes and dtypes as the base, {"format": "pt"}, unadapted tensors byte
// for byte, and logits equal to base + adapter.
func TestMerge(t *testing.T) {
	cases := []struct {
		name, base, adapter string
		tol                 float64
		links               bool // the base is a Hub cache snapshot: symlinks into blobs/
	}{
		{"gpt2", "../../testdata/ref/gpt2-tiny", "../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", 1e-5, false},
		{"gpt2 links", "../../testdata/ref/gpt2-tiny", "../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", 1e-5, true},
		{"llama-bf16", "../../testdata/ref/llama-tiny-bf16", "", 0.05, false}, // merged weights rounded to BF16
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.links {
				_, c.base = hubCache(t, c.base, "loft-test/gpt2")
			}
			adapter := c.adapter
			if adapter == "" {
				adapter = savedAdapter(t, c.base, []string{"all-linear"})
			}
			out := filepath.Join(t.TempDir(), "merged")
			code, stdout, errOut := run(t, "merge", "--model", c.base, "--adapter", adapter, "--out", out)
			if code != ExitOK || stdout != "" {
				t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, errOut)
			}
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("merged folder: mode %v, %v; want drwxr-xr-x", st.Mode(), err)
			}
			baseFiles, _ := os.ReadDir(c.base)
			outFiles, _ := os.ReadDir(out)
			if len(baseFiles) != len(outFiles) {
				t.Fatalf("%d files in the base, %d merged", len(baseFiles), len(outFiles))
			}
			bf, err := safetensors.Open(filepath.Join(c.base, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer bf.Close()
			mf, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer mf.Close()
			if md := mf.Metadata(); len(md) != 1 || md["format"] != "pt" {
				t.Fatalf("metadata %v, want only format pt", md)
			}
			if !slices.Equal(bf.Names(), mf.Names()) {
				t.Fatalf("tensor names differ:\n%v\n%v", bf.Names(), mf.Names())
			}
			changed := 0
			for _, n := range bf.Names() {
				bi, _ := bf.Info(n)
				mi, _ := mf.Info(n)
				if bi.DType != mi.DType || !slices.Equal(bi.Shape, mi.Shape) {
					t.Fatalf("%s: %s %v merged as %s %v", n, bi.DType, bi.Shape, mi.DType, mi.Shape)
				}
				braw, _, _ := bf.Raw(n)
				mraw, _, _ := mf.Raw(n)
				if string(braw) != string(mraw) {
					changed++
					if !strings.HasSuffix(n, "_proj.weight") && !strings.HasSuffix(n, "c_attn.weight") {
						t.Errorf("%s changed, but it is not adapted", n)
					}
				}
			}
			ids := []int32{1, 17, 42, 99, 5, 64, 3}
			base := logitsOf(t, c.base, "", ids)
			want := logitsOf(t, c.base, adapter, ids)
			got := logitsOf(t, out, "", ids)
			var moved, d float64
			for i := range want {
				moved = math.Max(moved, math.Abs(float64(want[i]-base[i])))
				d = math.Max(d, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("%d tensors merged; adapter moves logits by %.3g; merged folder differs from base + adapter by %.2g", changed, moved, d)
			if changed == 0 || moved < 10*c.tol || d > c.tol {
				t.Fatalf("%d merged tensors, adapter change %.3g, merged vs adapter %.3g", changed, moved, d)
			}
			// A second merge into the same, now full, folder is refused.
			if code, _, errOut := run(t, "merge", "--model", c.base, "--adapter", adapter, "--out", out); code != ExitError || !strings.Contains(errOut, "not empty") {
				t.Fatalf("merge into a full folder: code %d, stderr %q", code, errOut)
			}
		})
	}
	// An adapter for another model is refused naming the tensor.
	code, _, errOut := run(t, "merge", "--model", "../../testdata/ref/llama-tiny", "--adapter",
		"../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", "--out", filepath.Join(t.TempDir(), "x"))
	if code != ExitError || !strings.Contains(errOut, "transformer.h.0.attn.c_attn") {
		t.Fatalf("wrong adapter: code %d, stderr %q", code, errOut)
	}
}

// TestGenerateAdapter: --adapter changes stories260K's greedy text, a fresh
// adapter (B = 0) does not, and a bad folder is an error naming it.
func TestGenerateAdapter(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	gen := func(extra ...string) string {
		args := append([]string{"generate", "--model", m, "--prompt", "Once upon a time", "--max-new-tokens", "20", "--temperature", "0"}, extra...)
		code, out, errOut := run(t, args...)
		if code != ExitOK {
			t.Fatalf("%q: code %d, stderr %q", args, code, errOut)
		}
		return out
	}
	plain := gen()
	fresh := filepath.Join(t.TempDir(), "fresh")
	b, err := model.Load(m, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ad, err := lora.Apply(b.Slots, lora.Config{R: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Save(fresh, m); err != nil {
		t.Fatal(err)
	}
	if got := gen("--adapter", fresh); got != plain {
		t.Fatalf("a fresh adapter changed the text:\n%q\n%q", got, plain)
	}
	trained := savedAdapter(t, m, []string{"all-linear"})
	adapted := gen("--adapter", trained)
	if adapted == plain {
		t.Fatalf("an adapter with B ≠ 0 left the text unchanged: %q", adapted)
	}
	// The same adapter on the GGUF file (q/k rows permuted back at load)
	// and the merged folder give the same text.
	gguf := filepath.Join(filepath.Dir(m), "gguf", "stories260K-f32.gguf")
	if got := gen("--model", gguf, "--adapter", trained); got != adapted {
		t.Fatalf("GGUF + adapter:\n%q\nHF + adapter:\n%q", got, adapted)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if code, _, errOut := run(t, "merge", "--model", m, "--adapter", trained, "--out", merged); code != ExitOK {
		t.Fatalf("merge: code %d, stderr %q", code, errOut)
	}
	if got := gen("--model", merged); got != adapted {
		t.Fatalf("merged model:\n%q\nbase + adapter:\n%q", got, adapted)
	}
	if code, _, errOut := run(t, "merge", "--model", gguf, "--adapter", trained, "--out", filepath.Join(t.TempDir(), "m2")); code != ExitError || !strings.Contains(errOut, "not a model folder") {
		t.Fatalf("merge into a GGUF base: code %d, stderr %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "none")
	code, _, errOut := run(t, "chat", "--model", m, "--adapter", missing)
	if code != ExitError || !strings.Contains(errOut, missing) {
		t.Fatalf("chat with a missing adapter: code %d, stderr %q", code, errOut)
	}
}

// TestMergeOutIsFile: an --out that is an existing file is refused and
// left as it was (it was deleted to make room for the folder).
func TestMergeOutIsFile(t *testing.T) {
	base := "../../testdata/ref/gpt2-tiny"
	out := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "merge", "--model", base, "--adapter", "../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", "--out", out)
	if code != ExitError || !strings.Contains(errOut, out) || !strings.Contains(errOut, "not a folder") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "keep me" {
		t.Fatalf("--out file after the refused merge: %q, %v", b, err)
	}
}

// copyDir copies the regular files of src into a new temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestMergeLeavesOutOtherWeights: weights the checkpoint does not consist
// of (another format's copy: pytorch_model.bin, tf_model.h5, a GGUF file,
// Mistral's consolidated.safetensors) would hold the unmerged base in the
// merged folder, where a loader that prefers them (use_safetensors=False,
// vLLM's --load-format mistral) reads it: they are left out and named.
// Only model.safetensors, which model.Load read, is rewritten.
func TestMergeLeavesOutOtherWeights(t *testing.T) {
	base := copyDir(t, "../../testdata/ref/gpt2-tiny")
	extra := []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "model.Q8_0.gguf", "consolidated.safetensors"}
	for _, n := range extra[:4] {
		if err := os.WriteFile(filepath.Join(base, n), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := safetensors.Write(filepath.Join(base, "consolidated.safetensors"), []safetensors.Tensor{{Name: "layers.0.attention.wq.weight", DType: safetensors.F32, Shape: []int{2}, Values: []float32{1, 2}}}, nil); err != nil {
		t.Fatal(err)
	}
	// A sentence-transformers folder's modules, a hidden cache, a stale
	// shard index beside model.safetensors and weights in a subfolder.
	extra = append(extra, "model.safetensors.index.json", "onnx/model.onnx")
	for name, text := range map[string]string{
		"README.md": "# model card", "1_Pooling/config.json": `{"pooling_mode_mean_tokens": true}`,
		".cache/huggingface/download/x.metadata": "x", "model.safetensors.index.json": `{"weight_map": {}}`,
		"onnx/model.onnx": "stale",
	} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(base, "2_Normalize"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A link to a folder is not followed (to "." it would loop).
	if err := os.Symlink(".", filepath.Join(base, "self")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	code, _, errOut := run(t, "merge", "--model", base, "--adapter", "../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", "--out", out)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var got []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(out, p); err == nil && rel != "." {
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if want := []string{"1_Pooling", "1_Pooling/config.json", "2_Normalize", "README.md", "config.json", "expected.json", "model.safetensors", "onnx"}; !slices.Equal(got, want) {
		t.Fatalf("merged folder holds %q, want %q", got, want)
	}
	for _, n := range extra {
		if !strings.Contains(errOut, n) {
			t.Errorf("stderr does not name the left-out %s: %q", n, errOut)
		}
	}
}

// TestMergeBertModel merges into a BertModel checkpoint, whose tensor
// names lack the "bert." of the module paths (PEFT's names on
// BertForMaskedLM, loft's slots): the merged encoder equals base +
// adapter.
func TestMergeBertModel(t *testing.T) {
	src := "../../testdata/ref/bert-tiny"
	base := copyDir(t, src)
	var ts []safetensors.Tensor
	for _, x := range rawTensors(t, filepath.Join(src, "model.safetensors")) {
		if !strings.HasPrefix(x.Name, "cls.") {
			x.Name = strings.TrimPrefix(x.Name, "bert.")
			ts = append(ts, x)
		}
	}
	if err := safetensors.Write(filepath.Join(base, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	encode := func(dir, adapter string) []float32 {
		t.Helper()
		b := loadWith(t, dir, adapter)
		ids := []int32{1, 17, 42, 99, 5}
		out, err := b.Encoder.Encode(ids, make([]int32, len(ids)), nil, 1, len(ids))
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(out)
	}
	adapter := savedAdapter(t, base, []string{"query", "value", "output.dense"})
	out := filepath.Join(t.TempDir(), "merged")
	if code, _, errOut := run(t, "merge", "--model", base, "--adapter", adapter, "--out", out); code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	plain, want, got := encode(base, ""), encode(base, adapter), encode(out, "")
	var moved, d float64
	for i := range want {
		moved = math.Max(moved, math.Abs(float64(want[i]-plain[i])))
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("adapter moves the encoder output by %.3g; merged differs from base + adapter by %.2g", moved, d)
	if moved < 1e-3 || d > 1e-5 {
		t.Fatalf("adapter change %.3g, merged vs adapter %.3g", moved, d)
	}
}

// TestMergeSharded merges into a sharded llama-tiny-bf16 (an index and five
// shards, as transformers' save_pretrained splits a large model): the
// same shard files and index come out, each adapted weight in its shard,
// and the logits equal base + adapter.
func TestMergeSharded(t *testing.T) {
	src := "../../testdata/ref/llama-tiny-bf16"
	base := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := rawTensors(t, filepath.Join(src, "model.safetensors"))
	if err := safetensors.WriteSharded(base, ts, map[string]string{"format": "pt"}, 40<<10); err != nil {
		t.Fatal(err)
	}
	adapter := savedAdapter(t, base, []string{"all-linear"})
	out := filepath.Join(t.TempDir(), "merged")
	if code, _, errOut := run(t, "merge", "--model", base, "--adapter", adapter, "--out", out); code != ExitOK || errOut == "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var baseNames, outNames []string
	for dir, names := range map[string]*[]string{base: &baseNames, out: &outNames} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			*names = append(*names, e.Name())
		}
	}
	if len(baseNames) < 4 || !slices.Equal(baseNames, outNames) {
		t.Fatalf("base folder %q, merged %q", baseNames, outNames)
	}
	idx, _ := os.ReadFile(filepath.Join(base, safetensors.IndexFileName))
	if got, _ := os.ReadFile(filepath.Join(out, safetensors.IndexFileName)); string(got) != string(idx) {
		t.Fatalf("index changed:\n%s\n%s", idx, got)
	}
	ids := []int32{1, 17, 42, 99, 5, 64, 3}
	plain, want, got := logitsOf(t, base, "", ids), logitsOf(t, base, adapter, ids), logitsOf(t, out, "", ids)
	var moved, d float64
	for i := range want {
		moved = math.Max(moved, math.Abs(float64(want[i]-plain[i])))
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("%d shards; adapter moves logits by %.3g; merged differs from base + adapter by %.2g (BF16 rounding)", len(baseNames)-2, moved, d)
	if moved < 0.5 || d > 0.05 {
		t.Fatalf("adapter change %.3g, merged vs adapter %.3g", moved, d)
	}
}

// TestMergeMetadata: the merged file's safetensors metadata is
// {"format": "pt"} alone, as save_pretrained writes, not the base file's
// (a converter's "source", which the merged weights no longer are); the
// parents of --out are made.
func TestMergeMetadata(t *testing.T) {
	base := copyDir(t, "../../testdata/ref/gpt2-tiny")
	path := filepath.Join(base, "model.safetensors")
	ts := rawTensors(t, path)
	if err := safetensors.Write(path, ts, map[string]string{"format": "pt", "source": "model.bin", "converted_by": "a script"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "new", "parents", "merged") // made, as train makes --out
	if code, _, errOut := run(t, "merge", "--model", base, "--adapter", "../../testdata/ref/lora-gpt2-tiny/c_attn/adapter_final", "--out", out); code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	mf, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	if md := mf.Metadata(); len(md) != 1 || md["format"] != "pt" {
		t.Errorf("metadata %v, want only format pt", md)
	}
}
