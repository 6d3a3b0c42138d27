package model_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
)

// TestRoPEConfigForms: the places RoPE settings live give the same model.
// transformers 5 saves rope_parameters instead of rope_theta and
// rope_scaling (its values win); llama.cpp's GGUF scaling defaults to
// linear and takes its factor from rope.scaling.factor or the older
// rope.scale_linear. Each form must give, bit for bit, the logits of the
// top-level keys, and differ from the unscaled fixture's.
func TestRoPEConfigForms(t *testing.T) {
	dir := filepath.Join(refDir, "llama-tiny")
	ids := readExpected(t, dir).InputIDs[0]
	plain := forward(t, load(t, dir), ids)
	rope := func(theta, scaling string) func(string) string {
		return func(cfg string) string {
			r := strings.NewReplacer(`"rope_theta": 10000.0`, `"rope_theta": `+theta, `"rope_scaling": null`, `"rope_scaling": `+scaling)
			return r.Replace(cfg)
		}
	}
	topLevel := forward(t, load(t, mutated(t, rope("500", `{"type": "linear", "factor": 4}`), nil)), ids)
	if d := maxAbsDiff(plain, topLevel); d < 1e-3 {
		t.Fatalf("theta 500 and linear scaling 4 change the logits by only %g", d)
	}
	params := mutated(t, func(cfg string) string {
		return strings.Replace(cfg, `"rope_scaling": null`, `"rope_parameters": {"rope_type": "linear", "factor": 4, "rope_theta": 500}`, 1)
	}, nil)
	sameLogits(t, topLevel, forward(t, load(t, params), ids), "from rope_parameters")

	linear4 := forward(t, load(t, mutated(t, rope("10000.0", `{"type": "linear", "factor": 4}`), nil)), ids)
	for _, key := range []string{"llama.rope.scaling.factor", "llama.rope.scale_linear"} {
		path := filepath.Join(t.TempDir(), "l.gguf")
		writeGGUF(t, dir, "llama", path, nil, gguf.KV{Key: key, Value: gguf.ValueOf(float32(4))})
		sameLogits(t, linear4, forward(t, load(t, path), ids), "GGUF "+key+" 4 without a scaling type")
	}
	for _, tc := range []struct{ edit, want string }{
		{`"rope_parameters": {"rope_type": "yarn", "factor": 4}`, `rope_parameters rope_type "yarn" is not supported`},
		{`"rope_scaling": {"type": "dynamic", "factor": 2}`, `rope_scaling type "dynamic" is not supported`},
		{`"rope_scaling": {"rope_type": "longrope", "factor": 2}`, `rope_scaling rope_type "longrope" is not supported`},
		{`"rope_parameters": {"full_attention": {"rope_type": "default"}}`, "per layer type"},
		{`"rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5}`, "partial_rotary_factor 0.5"},
		{`"partial_rotary_factor": 0.5`, "partial_rotary_factor 0.5"},
	} {
		path := mutated(t, func(cfg string) string { return strings.Replace(cfg, `"rope_scaling": null`, tc.edit, 1) }, nil)
		if _, err := loadErr(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.edit, err, tc.want)
		}
	}
}
