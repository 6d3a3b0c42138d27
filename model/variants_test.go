package model_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/model"
)

// variants is testdata/ref/variants/expected.json (tools/ref/gen_models.py):
// logits of tiny models run with config options that change the math.
type variants struct {
	Variants []struct {
		Name         string                     `json:"name"`
		Base         string                     `json:"base"`
		Config       map[string]json.RawMessage `json:"config"`
		InputIDs     []int32                    `json:"input_ids"`
		TokenTypeIDs []int32                    `json:"token_type_ids"`
		Logits       [][]float64                `json:"logits"`
	} `json:"variants"`
}

// variantTol: the float32 runs of these models differ from the float64
// references by at most 3.5e-6, while the options checked move the
// logits by 6.3e-4 (BERT's tanh GELU for its exact one) to 1.2 (linear
// RoPE scaling); gen_models.py refuses an option that moves them by less
// than ten times this.
const variantTol = 2e-5

// TestConfigVariants loads each base fixture with the variant's keys set
// in its config.json (linear rope_scaling, GPT-2's activation_function
// gelu, BERT's hidden_act gelu_new) and compares the logits with
// PyTorch's, as transformers computes them for that config.
func TestConfigVariants(t *testing.T) {
	var vs variants
	if err := json.Unmarshal(mustRead(t, filepath.Join(refDir, "variants", "expected.json")), &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs.Variants) == 0 {
		t.Fatal("no variants")
	}
	for _, v := range vs.Variants {
		t.Run(v.Name, func(t *testing.T) {
			dir := mutatedFixture(t, v.Base, func(s string) string {
				var cfg map[string]json.RawMessage
				if err := json.Unmarshal([]byte(s), &cfg); err != nil {
					t.Fatal(err)
				}
				for k, x := range v.Config {
					cfg[k] = x
				}
				out, err := json.Marshal(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return string(out)
			}, nil)
			got := variantLogits(t, load(t, dir), v.InputIDs, v.TokenTypeIDs)
			V := len(got) / len(v.InputIDs)
			worst := 0.0
			for i, row := range v.Logits {
				for j, want := range row {
					worst = max(worst, math.Abs(float64(got[i*V+j])-want))
				}
			}
			t.Logf("%s: max abs diff %.2g", v.Name, worst)
			if worst > variantTol {
				t.Errorf("%s: logits differ from PyTorch's by %g (> %g)", v.Name, worst, variantTol)
			}
		})
	}
}

// variantLogits runs one unpadded row: a decoder's logits, or BERT's
// masked-LM scores with token types.
func variantLogits(t *testing.T, b *model.Bundle, ids, types []int32) []float32 {
	t.Helper()
	if b.LM != nil {
		return forward(t, b, ids)
	}
	out := make([]float32, len(ids)*b.Encoder.VocabSize())
	if err := b.Encoder.Forward(ids, types, nil, 1, len(ids), out); err != nil {
		t.Fatal(err)
	}
	return out
}
