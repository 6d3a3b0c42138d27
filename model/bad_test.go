package model_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/model"
)

// mutated copies llama-tiny into a temporary folder, with config.json
// rewritten by editConfig and the tensors by editTensors.
func mutated(t *testing.T, editConfig func(string) string, editTensors func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src := filepath.Join(refDir, "llama-tiny")
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

func TestBadInput(t *testing.T) {
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
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
		{"unsupported model_type", func(s string) string { return strings.Replace(s, `"llama"`, `"mamba"`, 1) }, nil,
			[]string{"config.json", `"mamba"`, "unsupported"}},
		{"unsupported act", func(s string) string { return strings.Replace(s, `"silu"`, `"relu"`, 1) }, nil,
			[]string{"config.json", "hidden_act"}},
		{"missing tensor", nil, drop("model.layers.1.mlp.up_proj.weight"),
			[]string{"missing tensors (1): model.layers.1.mlp.up_proj.weight"}},
		{"extra tensor", nil, extra, []string{"unused tensors (1): model.layers.0.self_attn.rogue.weight"}},
		{"wrong shape", nil, reshape, []string{"model.norm.weight has shape [32], want [64]"}},
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
