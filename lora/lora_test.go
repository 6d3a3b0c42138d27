package lora_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/nn"
)

func load(t *testing.T, name string) model.Trainable {
	t.Helper()
	b, err := model.Load("../testdata/ref/"+name, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b.LM.(model.Trainable)
}

func testIDs(V, n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32((i*37 + 5) % V)
	}
	return ids
}

func logits(t *testing.T, m model.Trainable, ids []int32, B, T int) []float32 {
	t.Helper()
	out := make([]float32, B*T*m.VocabSize())
	if err := m.Forward(m.NewCache(B, T), ids, B, T, out, false); err != nil {
		t.Fatal(err)
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func randomizeB(ad *lora.Adapter, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, l := range ad.Modules {
		nn.FillNormal(l.B, 0.05, rng)
	}
}

// TestFreshAdapterIsBase: with B = 0 the adapted model's logits equal the
// base model's bit for bit, on every architecture (dropout configured but
// off outside training).
func TestFreshAdapterIsBase(t *testing.T) {
	for _, c := range []struct {
		model   string
		targets []string
	}{{"llama-tiny", []string{"all-linear"}}, {"qwen2-tiny", []string{"q_proj", "v_proj"}}, {"qwen3-tiny", []string{"all-linear"}}, {"gpt2-tiny", []string{"c_attn", "c_fc"}}} {
		m := load(t, c.model)
		const B, T = 2, 7
		ids := testIDs(m.VocabSize(), B*T)
		want := logits(t, m, ids, B, T)
		ad, err := lora.Apply(m.Slots(), lora.Config{R: 4, Alpha: 8, Dropout: 0.1, Targets: c.targets, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := logits(t, m, ids, B, T)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: logit %d is %v with a fresh adapter, %v without", c.model, i, got[i], want[i])
			}
		}
		if ad.NumParams() == 0 {
			t.Fatalf("%s: no parameters", c.model)
		}
		for _, l := range ad.Modules {
			if slices.ContainsFunc(l.B, func(v float32) bool { return v != 0 }) || !slices.ContainsFunc(l.A, func(v float32) bool { return v != 0 }) {
				t.Fatalf("%s: %s: fresh adapter must have B = 0 and A ≠ 0", c.model, l.Name)
			}
		}
	}
}

// TestMergeEqualsUnmerged: the adapted model and the merged model give the
// same logits, and the adapter changes them (so the check means something).
func TestMergeEqualsUnmerged(t *testing.T) {
	for _, c := range []struct{ model, adapter string }{
		{"qwen3-tiny", "lora-qwen3-tiny/all-linear/adapter_final"},
		{"gpt2-tiny", "lora-gpt2-tiny/c_attn/adapter_final"},
	} {
		m := load(t, c.model)
		const B, T = 2, 7
		ids := testIDs(m.VocabSize(), B*T)
		base := logits(t, m, ids, B, T)
		ad, err := lora.Load("../testdata/ref/"+c.adapter, m.Slots())
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(ad, 3) // larger than 3 steps of training: a visible change
		adapted := logits(t, m, ids, B, T)
		if err := ad.Merge(); err != nil {
			t.Fatal(err)
		}
		merged := logits(t, m, ids, B, T)
		change, d := maxDiff(adapted, base), maxDiff(merged, adapted)
		t.Logf("%s: adapter moves logits by %.3g; merged differs from unmerged by %.2g", c.model, change, d)
		if change < 1e-2 || d > 1e-5 {
			t.Fatalf("%s: adapter change %.3g, merged vs unmerged %.3g", c.model, change, d)
		}
		if err := ad.Merge(); err == nil {
			t.Fatal("second Merge accepted")
		}
	}
}

// TestSaveLoadRoundTrip: Save then Load into a fresh model gives identical
// logits, and the config holds PEFT's fields.
func TestSaveLoadRoundTrip(t *testing.T) {
	for _, c := range []struct {
		model string
		cfg   lora.Config
	}{
		{"llama3-tiny", lora.Config{R: 4, Alpha: 16, Targets: []string{"all-linear"}, RSLoRA: true, Seed: 7}},
		{"gpt2-tiny", lora.Config{R: 2, Alpha: 4, TargetRegex: `.*\.h\.1\.(attn\.c_attn|mlp\.c_fc)`, Seed: 8, InitGaussian: true}},
		{"qwen2-tiny", lora.Config{R: 3, Alpha: 5, Targets: []string{"v_proj", "down_proj"}, Exclude: []string{"layers.0.mlp.down_proj"}, Layers: []int{1}, Seed: 9}},
	} {
		m := load(t, c.model)
		ad, err := lora.Apply(m.Slots(), c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(ad, 4)
		if c.model == "qwen2-tiny" {
			ad.BaseRevision = "v1.0"
		}
		const B, T = 1, 6
		ids := testIDs(m.VocabSize(), B*T)
		want := logits(t, m, ids, B, T)
		dir := filepath.Join(t.TempDir(), "adapter")
		if err := ad.Save(dir, "testdata/ref/"+c.model); err != nil {
			t.Fatal(err)
		}
		m2 := load(t, c.model)
		ad2, err := lora.Load(dir, m2.Slots())
		if err != nil {
			t.Fatal(err)
		}
		got := logits(t, m2, ids, B, T)
		if d := maxDiff(got, want); d != 0 {
			t.Fatalf("%s: logits after save/load differ by %.3g", c.model, d)
		}
		if len(ad2.Modules) != len(ad.Modules) || ad2.Modules[0].Scale != ad.Modules[0].Scale {
			t.Fatalf("%s: loaded %d modules (scale %v), saved %d (scale %v)", c.model, len(ad2.Modules), ad2.Modules[0].Scale, len(ad.Modules), ad.Modules[0].Scale)
		}
		for _, f := range []string{"adapter_config.json", "adapter_model.safetensors"} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("%s: %s: mode %v, %v; want -rw-r--r--", c.model, f, st.Mode(), err)
			}
		}
		var pc map[string]any
		buf, _ := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
		if err := json.Unmarshal(buf, &pc); err != nil {
			t.Fatal(err)
		}
		wantTargets := any([]any{"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"})
		switch c.model {
		case "gpt2-tiny":
			wantTargets = c.cfg.TargetRegex
		case "qwen2-tiny":
			wantTargets = []any{"v_proj", "down_proj"}
		}
		for k, v := range map[string]any{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": float64(c.cfg.R), "lora_alpha": c.cfg.Alpha,
			"use_rslora": c.cfg.RSLoRA, "fan_in_fan_out": c.model == "gpt2-tiny", "bias": "none", "target_modules": wantTargets,
			"base_model_name_or_path": "testdata/ref/" + c.model} {
			if got, _ := json.Marshal(pc[k]); string(got) != mustJSON(v) {
				t.Errorf("%s: adapter_config.json %s = %s, want %s", c.model, k, got, mustJSON(v))
			}
		}
		if _, ok := pc["exclude_modules"]; ok != (len(c.cfg.Exclude) > 0) {
			t.Errorf("%s: exclude_modules written: %v, want %v", c.model, ok, len(c.cfg.Exclude) > 0)
		}
		if !slices.Equal(ad2.Config.Exclude, c.cfg.Exclude) {
			t.Errorf("%s: exclude read back as %q", c.model, ad2.Config.Exclude)
		}
		if wantRev := map[bool]any{true: "v1.0", false: nil}[c.model == "qwen2-tiny"]; pc["revision"] != wantRev || ad2.BaseRevision != ad.BaseRevision {
			t.Errorf("%s: revision %v (read back %q), want %v", c.model, pc["revision"], ad2.BaseRevision, wantRev)
		}
		if c.model == "qwen2-tiny" && mustJSON(pc["layers_to_transform"]) != "[1]" {
			t.Errorf("layers_to_transform = %v", pc["layers_to_transform"])
		}
		if c.model == "gpt2-tiny" && pc["init_lora_weights"] != "gaussian" {
			t.Errorf("init_lora_weights = %v", pc["init_lora_weights"])
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOnlyAdapterChanges: after ForwardLoss, Backward and an SGD update of
// every parameter, A and B moved and every base weight is byte-identical.
func TestOnlyAdapterChanges(t *testing.T) {
	for _, name := range []string{"qwen3-tiny", "gpt2-tiny"} {
		b, err := model.Load("../testdata/ref/"+name, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := b.LM.(model.Trainable)
		var bases [][]float32
		for _, s := range m.Slots() {
			bases = append(bases, (*s.Layer).Base().W, (*s.Layer).Base().B)
		}
		snapshot := func() [][]float32 {
			var c [][]float32
			for _, w := range bases {
				c = append(c, slices.Clone(w))
			}
			return c
		}
		before := snapshot()
		ad, err := lora.Apply(m.Slots(), lora.Config{R: 4, Alpha: 8, Dropout: 0.1, Targets: []string{"all-linear"}, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		ad.SetTraining(true)
		const B, T = 2, 8
		ids := testIDs(m.VocabSize(), B*T)
		targets := testIDs(m.VocabSize()-1, B*T)
		params := ad.Params()
		old := make([][]float32, len(params))
		for step := 0; step < 2; step++ {
			ad.ZeroGrad()
			_, n, err := m.ForwardLoss(ids, targets, B, T)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Backward(1 / float32(n)); err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				old[i] = slices.Clone(p.W)
				for j := range p.W {
					p.W[j] -= 0.1 * p.G[j]
				}
			}
		}
		for i, p := range params {
			if slices.Equal(old[i], p.W) {
				t.Errorf("%s: %s did not change", name, p.Name)
			}
		}
		after := snapshot()
		for i := range before {
			for j := range before[i] {
				if math.Float32bits(before[i][j]) != math.Float32bits(after[i][j]) {
					t.Fatalf("%s: base weight %d changed at %d", name, i, j)
				}
			}
		}
	}
}

// TestModelFD checks whole-model gradients of LoRA A and B (every entry of
// a few modules, B non-zero) against central finite differences of the
// loss for each architecture: cosine similarity and norm error over the
// entries.
func TestModelFD(t *testing.T) {
	for _, c := range []struct {
		model   string
		targets []string
	}{{"llama-tiny", []string{"q_proj", "down_proj"}}, {"qwen2-tiny", []string{"k_proj", "up_proj"}}, {"qwen3-tiny", []string{"q_proj", "o_proj"}}, {"gpt2-tiny", []string{"c_attn", "c_proj"}}} {
		m := load(t, c.model)
		ad, err := lora.Apply(m.Slots(), lora.Config{R: 2, Alpha: 4, Targets: c.targets, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(ad, 6)
		const B, T = 2, 5
		ids := testIDs(m.VocabSize(), B*T)
		targets := testIDs(m.VocabSize()-3, B*T)
		if _, _, err := m.ForwardLoss(ids, targets, B, T); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(1); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 {
			s, _, err := m.ForwardLoss(ids, targets, B, T)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		var dot, ff, gg float64
		n := 0
		for _, p := range ad.Params() {
			for j := 0; j < len(p.W); j += 3 {
				old := p.W[j]
				p.W[j] = old + 1e-2
				lp := loss()
				p.W[j] = old - 1e-2
				lm := loss()
				p.W[j] = old
				fd := (lp - lm) / 2e-2
				g := float64(p.G[j])
				dot, ff, gg, n = dot+fd*g, ff+fd*fd, gg+g*g, n+1
			}
		}
		cos, rel := dot/math.Sqrt(ff*gg), math.Abs(math.Sqrt(gg)-math.Sqrt(ff))/math.Sqrt(ff)
		t.Logf("%s: %d entries of A and B: cosine %.7f, norm relative error %.2g", c.model, n, cos, rel)
		if !(cos > 0.9999) || !(rel < 1e-3) {
			t.Errorf("%s: LoRA gradients vs finite differences: cosine %.6f, norm error %.2g", c.model, cos, rel)
		}
	}
}

// TestTargetErrors: a target that matches nothing names the model's
// modules and the nearest one; the head and bad settings are refused.
func TestTargetErrors(t *testing.T) {
	gpt2, llama := load(t, "gpt2-tiny"), load(t, "llama-tiny")
	for _, c := range []struct {
		m    model.Trainable
		cfg  lora.Config
		want []string
	}{
		{gpt2, lora.Config{Targets: []string{"q_proj", "v_proj"}}, []string{`target "q_proj" matches no module`, `did you mean "c_attn"?`, "linear modules: c_attn, c_proj, c_fc (full paths", "transformer.h.0.attn.c_attn"}},
		{llama, lora.Config{Targets: []string{"q_proj", "v_prj"}}, []string{`target "v_prj"`, `did you mean "v_proj"?`, "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (full paths"}},
		{llama, lora.Config{Targets: []string{"c_attn"}}, []string{`did you mean "q_proj"?`}},
		{llama, lora.Config{TargetRegex: `q_proj`}, []string{`regular expression "q_proj" matches no module name (it must match the whole name); did you mean ".*q_proj"? The model's linear modules: q_proj`}},
		{llama, lora.Config{TargetRegex: `zzz`}, []string{`(it must match the whole name). The model's linear modules: q_proj`}},
		{llama, lora.Config{TargetRegex: `.*q_proj`, Layers: []int{0}}, []string{"cannot be combined with a layer selection"}},
		{llama, lora.Config{TargetRegex: `(`}, []string{"target regular expression"}},
		{llama, lora.Config{Targets: []string{"lm_head"}}, []string{"output head lm_head"}},
		{llama, lora.Config{Targets: []string{"q_proj"}, Layers: []int{0, 7}}, []string{"layer 7 does not exist: the model's layers are 0-1"}},
		{llama, lora.Config{Targets: []string{"lm_head"}, Layers: []int{1}}, []string{"output head lm_head"}},
		{llama, lora.Config{Targets: []string{"q_proj"}, Exclude: []string{"q_proj"}}, []string{"once --exclude"}},
		{llama, lora.Config{Targets: []string{"all-linear", "q_proj"}}, []string{"cannot be combined"}},
		{llama, lora.Config{R: -1, Targets: []string{"q_proj"}}, []string{"rank r must be at least 1"}},
		{llama, lora.Config{Dropout: 1, Targets: []string{"q_proj"}}, []string{"dropout must be in [0, 1)"}},
		{llama, lora.Config{}, []string{"no target modules"}},
	} {
		if c.cfg.R == 0 {
			c.cfg.R = 4
		}
		if c.cfg.Alpha == 0 {
			c.cfg.Alpha = 8
		}
		_, err := lora.Apply(c.m.Slots(), c.cfg)
		if err == nil {
			t.Errorf("%+v: no error", c.cfg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", c.cfg, err, w)
			}
		}
	}
	// Exclude and Layers select what PEFT selects.
	ad, err := lora.Apply(llama.Slots(), lora.Config{R: 2, Alpha: 2, Targets: []string{"all-linear"}, Exclude: []string{"mlp.down_proj", "k_proj"}, Layers: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range ad.Modules {
		names = append(names, l.Name)
	}
	want := []string{"model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.self_attn.o_proj", "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"}
	if !slices.Equal(names, want) {
		t.Fatalf("adapted %v, want %v", names, want)
	}
	if _, err := lora.Apply(llama.Slots(), lora.Config{R: 2, Alpha: 2, Targets: []string{"q_proj"}, Layers: []int{1}}); err == nil || !strings.Contains(err.Error(), "already holds an adapter") {
		t.Fatalf("adapting an adapted module: %v", err)
	}
}

// writeAdapter copies a fixture adapter into a temporary folder, lets edit
// change its config (a JSON object) and tensors, and returns the folder.
func writeAdapter(t *testing.T, src string, edit func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join(src, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(buf, &cfg); err != nil {
		t.Fatal(err)
	}
	ts := edit(cfg, float32Tensors(t, filepath.Join(src, "adapter_model.safetensors")))
	dir := t.TempDir()
	out, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, "adapter_model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// float32Tensors reads every tensor of the safetensors file at path as F32.
func float32Tensors(t *testing.T, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		v, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(n)
		ts = append(ts, safetensors.Tensor{Name: n, DType: safetensors.F32, Shape: info.Shape, Values: v})
	}
	return ts
}

// checkScales checks that every module of ad has scale def, but those
// named in special, which have theirs.
func checkScales(t *testing.T, ad *lora.Adapter, def float32, special map[string]float32) {
	t.Helper()
	for _, l := range ad.Modules {
		want, ok := special[l.Name]
		if !ok {
			want = def
		}
		if l.Scale != want {
			t.Errorf("%s: scale %v, want %v", l.Name, l.Scale, want)
		}
	}
}

// TestLoadVariants: ".default" keys, F16/BF16 tensors, rank_pattern and
// alpha_pattern are read as PEFT writes them.
func TestLoadVariants(t *testing.T) {
	const src = "../testdata/ref/lora-qwen2-tiny/qv/adapter_final"
	const B, T = 1, 6
	ref := load(t, "qwen2-tiny")
	ids := testIDs(ref.VocabSize(), B*T)
	if _, err := lora.Load(src, ref.Slots()); err != nil {
		t.Fatal(err)
	}
	want := logits(t, ref, ids, B, T)

	m := load(t, "qwen2-tiny")
	dir := writeAdapter(t, src, func(_ map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			ts[i].Name = strings.Replace(ts[i].Name, ".weight", ".default.weight", 1)
		}
		return ts
	})
	if _, err := lora.Load(dir, m.Slots()); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(logits(t, m, ids, B, T), want); d != 0 {
		t.Fatalf(".default keys: logits differ by %.3g", d)
	}

	for _, dt := range []safetensors.DType{safetensors.F16, safetensors.BF16} {
		m := load(t, "qwen2-tiny")
		dir := writeAdapter(t, src, func(_ map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].DType = dt
			}
			return ts
		})
		if _, err := lora.Load(dir, m.Slots()); err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(logits(t, m, ids, B, T), want); d == 0 || d > 1e-2 {
			t.Fatalf("%s tensors: logits differ by %.3g", dt, d)
		}
	}

	// alpha_pattern doubles v_proj's alpha in layer 0 only; rank_pattern
	// states the rank the tensors have.
	m = load(t, "qwen2-tiny")
	dir = writeAdapter(t, src, func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
		cfg["alpha_pattern"] = map[string]any{`layers\.0\.self_attn\.v_proj`: 32}
		cfg["rank_pattern"] = map[string]any{"q_proj": 8}
		return ts
	})
	ad, err := lora.Load(dir, m.Slots())
	if err != nil {
		t.Fatal(err)
	}
	checkScales(t, ad, 2, map[string]float32{"model.layers.0.self_attn.v_proj": 4})
	// Saved again, the patterns hold the full module names: PEFT >= 0.14
	// matches them as (.*\.)?key$, older versions by their fallback to
	// an exact lookup of the module's name. Loaded back, every module keeps
	// its scale.
	resaved := filepath.Join(t.TempDir(), "resaved")
	if err := ad.Save(resaved, "qwen2-tiny"); err != nil {
		t.Fatal(err)
	}
	var pc map[string]any
	buf, _ := os.ReadFile(filepath.Join(resaved, "adapter_config.json"))
	if err := json.Unmarshal(buf, &pc); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(pc["alpha_pattern"]); got != `{"model.layers.0.self_attn.v_proj":32}` {
		t.Errorf("resaved alpha_pattern %s", got)
	}
	ad2, err := lora.Load(resaved, load(t, "qwen2-tiny").Slots())
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ad2.Modules {
		if l.Scale != ad.Modules[i].Scale || l.R != ad.Modules[i].R {
			t.Errorf("resaved %s: scale %v rank %d, want %v and %d", l.Name, l.Scale, l.R, ad.Modules[i].Scale, ad.Modules[i].R)
		}
	}
	// Overlapping keys: the first in the file's order wins, as PEFT tries
	// the keys in dict order. Empty newer fields are accepted.
	for _, c := range []struct {
		pattern string
		layer0  float32 // scale of layer 0's v_proj
	}{
		{`{"v_proj": 24, "layers\\.0\\.self_attn\\.v_proj": 32}`, 3},
		{`{"layers\\.0\\.self_attn\\.v_proj": 32, "v_proj": 24}`, 4},
	} {
		m := load(t, "qwen2-tiny")
		dir := writeAdapter(t, src, func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			cfg["target_parameters"] = []any{}
			cfg["lora_bias"] = false
			cfg["layer_replication"] = nil
			return ts
		})
		cfgPath := filepath.Join(dir, "adapter_config.json")
		buf, _ := os.ReadFile(cfgPath)
		if !strings.Contains(string(buf), `"alpha_pattern":{}`) {
			t.Fatalf("unexpected config %s", buf)
		}
		buf = []byte(strings.Replace(string(buf), `"alpha_pattern":{}`, `"alpha_pattern":`+c.pattern, 1))
		if err := os.WriteFile(cfgPath, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		ad, err := lora.Load(dir, m.Slots())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ad.Modules {
			want := float32(2)
			switch {
			case l.Name == "model.layers.0.self_attn.v_proj":
				want = c.layer0
			case strings.HasSuffix(l.Name, "v_proj"):
				want = 3
			}
			if l.Scale != want {
				t.Errorf("alpha_pattern %s: %s: scale %v, want %v", c.pattern, l.Name, l.Scale, want)
			}
		}
	}

	m = load(t, "qwen2-tiny")
	dir = writeAdapter(t, src, func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
		cfg["use_rslora"] = true
		return ts
	})
	if ad, err = lora.Load(dir, m.Slots()); err != nil || ad.Modules[0].Scale != float32(16/math.Sqrt(8)) {
		t.Fatalf("use_rslora: %v, scale %v", err, ad.Modules[0].Scale)
	}
}

// TestLoadRefusals: what loft cannot apply is refused with the field or
// tensor named, and the model is left untouched.
func TestLoadRefusals(t *testing.T) {
	const src = "../testdata/ref/lora-qwen2-tiny/qv/adapter_final"
	cases := []struct {
		name  string
		model string
		edit  func(cfg map[string]any, ts []safetensors.Tensor) []safetensors.Tensor
		want  string
	}{
		{"dora", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor { c["use_dora"] = true; return ts }, "use_dora is true"},
		{"bias", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["bias"] = "all" // a trained bias of a q_proj PEFT wrapped, as get_peft_model_state_dict saves it
			return append(ts, safetensors.Tensor{Name: "base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias", DType: safetensors.F32, Shape: []int{64}, Values: make([]float32, 64)})
		}, `tensor "base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias" is a bias trained with bias "all"`},
		{"bias value", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor { c["bias"] = "some"; return ts }, `bias "some" is not one of PEFT's`},
		{"modules_to_save", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["modules_to_save"] = []string{"lm_head"}
			return ts
		}, "modules_to_save"},
		{"peft_type", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["peft_type"] = "IA3"
			return ts
		}, `peft_type "IA3"`},
		{"lora_bias", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor { c["lora_bias"] = true; return ts }, "lora_bias is true"},
		{"pissa", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["init_lora_weights"] = "pissa_niter_4"
			return ts
		}, `init_lora_weights "pissa_niter_4"`},
		{"olora", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["init_lora_weights"] = "olora"
			return ts
		}, `init_lora_weights "olora"`},
		{"alora", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["alora_invocation_tokens"] = []int{5, 6}
			return ts
		}, "alora_invocation_tokens"},
		{"dropout", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["lora_dropout"] = 1.5
			return ts
		}, "lora_dropout must be in [0, 1), got 1.5"},
		{"qalora", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["use_qalora"] = true
			return ts
		}, "use_qalora is true"},
		{"target_parameters", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["target_parameters"] = []string{"experts.gate_up_proj"}
			return ts
		}, `target_parameters ["experts.gate_up_proj"]`},
		{"trainable tokens", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["trainable_token_indices"] = []int{3, 5}
			return ts
		}, "trainable_token_indices"},
		{"layer_replication", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["layer_replication"] = [][]int{{0, 2}, {1, 2}}
			return ts
		}, "layer_replication"},
		{"embedding", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "base_model.model.model.embed_tokens.lora_embedding_A", DType: safetensors.F32, Shape: []int{8, 128}, Values: make([]float32, 8*128)})
		}, "embedding LoRA"},
		{"unknown tensor", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "base_model.model.model.layers.0.self_attn.q_proj.bias", DType: safetensors.F32, Shape: []int{64}, Values: make([]float32, 64)})
		}, `"base_model.model.model.layers.0.self_attn.q_proj.bias" is not a LoRA A or B weight`},
		{"layer count", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Name = strings.Replace(ts[0].Name, "layers.0", "layers.9", 1)
			return ts
		}, "module model.layers.9.self_attn"},
		{"only A", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool {
				return x.Name == "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
			})
		}, "only one of lora_A and lora_B"},
		{"two names for one matrix", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			x := ts[0] // base_model.model.model.layers.0..., also without the model. wrapper
			x.Name = strings.Replace(x.Name, "base_model.model.model.", "base_model.model.", 1)
			return append(ts, x)
		}, "are both lora_"},
		{"two adapter names", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			x := ts[0]
			x.Name = strings.Replace(x.Name, ".weight", ".other.weight", 1)
			return append(ts, x)
		}, "are both lora_"},
		{"rank pattern", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["rank_pattern"] = map[string]any{"q_proj": 4}
			return ts
		}, "rank 8"},
		{"rank pattern zero", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["rank_pattern"] = map[string]any{"v_proj": 0}
			return ts
		}, `rank_pattern "v_proj": rank must be a positive integer, got 0`},
		{"alpha pattern negative", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["alpha_pattern"] = map[string]any{"v_proj": -2}
			return ts
		}, `alpha_pattern "v_proj": lora_alpha must be positive, got -2`},
		{"pattern not an object", "qwen2-tiny", func(c map[string]any, ts []safetensors.Tensor) []safetensors.Tensor {
			c["rank_pattern"] = []int{4}
			return ts
		}, "rank_pattern"},
		{"architecture", "gpt2-tiny", nil, "not a linear layer of this model"},
		{"shape", "qwen3-tiny", nil, `has shape [8 64], the model's model.layers.0.self_attn.q_proj needs (r, 32)`},
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m := load(t, c.model)
			dir := src
			if c.edit != nil {
				dir = writeAdapter(t, src, c.edit)
			}
			_, err := lora.Load(dir, m.Slots())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, s := range m.Slots() {
				if _, ok := (*s.Layer).(*nn.Linear); !ok {
					t.Fatalf("%s was changed by a refused adapter", s.Name)
				}
			}
		})
	}
	if _, err := lora.Load(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "adapter_config.json") {
		t.Fatalf("missing config: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "adapter_config.json")
	if err := os.WriteFile(cfgPath, []byte("{\n  \"peft_type\": \"LORA\",\n  \"r\": \"8\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := cfgPath + `: bad JSON at line 3, column 10: "r" is a JSON string, want an integer`
	if _, err := lora.Load(dir, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("r as a string: %v, want an error saying %s", err, want)
	}
}

// checkpointer is what models with gradient checkpointing offer.
type checkpointer interface{ SetGradCheckpoint(bool) }

// TestGradCheckpoint: with gradient checkpointing (activations recomputed
// in backward, LoRA dropout masks replayed) the loss and every gradient
// equal those of the plain backward exactly.
func TestGradCheckpoint(t *testing.T) {
	for _, name := range []string{"qwen3-tiny", "gpt2-tiny"} {
		m := load(t, name)
		ad, err := lora.Apply(m.Slots(), lora.Config{R: 4, Alpha: 8, Dropout: 0.2, Targets: []string{"all-linear"}, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(ad, 5)
		ad.SetTraining(true)
		state, _ := ad.RNGState()
		const B, T = 2, 9
		ids := testIDs(m.VocabSize(), B*T)
		targets := testIDs(m.VocabSize()-1, B*T)
		run := func(ckpt bool) (float64, [][]float32) {
			m.(checkpointer).SetGradCheckpoint(ckpt)
			if err := ad.SetRNGState(state); err != nil {
				t.Fatal(err)
			}
			ad.ZeroGrad()
			sum, _, err := m.ForwardLoss(ids, targets, B, T)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Backward(0.1); err != nil {
				t.Fatal(err)
			}
			var gs [][]float32
			for _, p := range ad.Params() {
				gs = append(gs, slices.Clone(p.G))
			}
			return sum, gs
		}
		l0, g0 := run(false)
		l1, g1 := run(true)
		if l0 != l1 {
			t.Fatalf("%s: loss %v with checkpointing, %v without", name, l1, l0)
		}
		for i := range g0 {
			if !slices.Equal(g0[i], g1[i]) {
				t.Fatalf("%s: gradient %s differs with checkpointing (max %.3g)", name, ad.Params()[i].Name, maxDiff(g0[i], g1[i]))
			}
		}
		// Another dropout draw changes the gradients: the masks matter.
		if err := ad.SetRNGState(state); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.ForwardLoss(ids, targets, B, T); err != nil { // moves the generator on
			t.Fatal(err)
		}
		state, _ = ad.RNGState()
		_, g2 := run(false)
		if slices.Equal(g2[0], g0[0]) {
			t.Fatalf("%s: gradients do not depend on the dropout masks", name)
		}
	}
}

// TestNoTargets: a batch whose targets are all ignored has loss 0 and
// leaves the gradients at zero, even with the infinite scale 1/count.
func TestNoTargets(t *testing.T) {
	m := load(t, "llama-tiny")
	ad, err := lora.Apply(m.Slots(), lora.Config{R: 2, Alpha: 2, Targets: []string{"q_proj"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := testIDs(m.VocabSize(), 4)
	sum, n, err := m.ForwardLoss(ids, []int32{-100, -100, -100, -100}, 1, 4)
	if err != nil || sum != 0 || n != 0 {
		t.Fatalf("sum %v, count %d, err %v", sum, n, err)
	}
	if err := m.Backward(float32(math.Inf(1))); err != nil {
		t.Fatal(err)
	}
	for _, p := range ad.Params() {
		if slices.ContainsFunc(p.G, func(v float32) bool { return v != 0 }) {
			t.Fatalf("%s: non-zero gradient", p.Name)
		}
	}
}

// TestLoadWrongPath: a file of the adapter, or a run's folder holding only
// checkpoints, is refused with what to give instead.
func TestLoadWrongPath(t *testing.T) {
	const src = "../testdata/ref/lora-qwen2-tiny/qv/adapter_final"
	m := load(t, "qwen2-tiny")
	file := filepath.Join(src, lora.WeightsFile)
	if _, err := lora.Load(file, m.Slots()); err == nil || !strings.Contains(err.Error(), "is a file; give the adapter's folder") {
		t.Errorf("a file: %v", err)
	}
	run := t.TempDir()
	for _, ck := range []string{"checkpoint-9", "checkpoint-10"} {
		dir := filepath.Join(run, ck)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{lora.ConfigFile, lora.WeightsFile} {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := "holds checkpoints of a training run: give one of them, such as " + filepath.Join(run, "checkpoint-10")
	if _, err := lora.Load(run, m.Slots()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a run's folder: %v, want %q", err, want)
	}
	if _, err := lora.Load(filepath.Join(run, "checkpoint-10"), m.Slots()); err != nil {
		t.Errorf("the checkpoint itself: %v", err)
	}
}

// TestSelectErrorField: a selection that fails names the setting at fault,
// for a command to name its flag.
func TestSelectErrorField(t *testing.T) {
	llama := load(t, "llama-tiny")
	for _, c := range []struct {
		cfg   lora.Config
		field string
	}{
		{lora.Config{Targets: []string{"nope"}}, "Targets"},
		{lora.Config{Targets: []string{"lm_head"}}, "Targets"},
		{lora.Config{TargetRegex: "nope"}, "TargetRegex"},
		{lora.Config{Targets: []string{"q_proj"}, Layers: []int{9}}, "Layers"},
		{lora.Config{Targets: []string{"q_proj"}, Exclude: []string{"q_proj"}}, "Exclude"},
	} {
		c.cfg.R, c.cfg.Alpha = 4, 8
		_, err := lora.Apply(llama.Slots(), c.cfg)
		var se *lora.SelectError
		if !errors.As(err, &se) || se.Field != c.field {
			t.Errorf("%+v: %v, want a SelectError on %s", c.cfg, err, c.field)
		}
	}
}
