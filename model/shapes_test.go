package model_test

import (
	"testing"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/gpt2"
	"github.com/loftml/loft/model/llama"
)

// TestShapes checks the benchmark shapes' parameter counts against the
// published model sizes (transformers' num_parameters for the real models:
// GPT-2 124,439,808; SmolLM-135M 134,515,008; Qwen2.5-0.5B 494,032,768)
// and that a random GPT-2 runs.
func TestShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 0.5 GB of random GPT-2 weights")
	}
	for name, want := range map[string]int{"gpt2": 124439808, "smollm-135m": 134515008, "qwen2.5-0.5b": 494032768} {
		s, err := model.Shape(name)
		if err != nil {
			t.Fatal(err)
		}
		var params int
		if s.Arch == "gpt2" {
			m, err := gpt2.New(s.GPT2)
			if err != nil {
				t.Fatal(err)
			}
			params = m.NumParams()
		} else {
			m, err := llama.New(s.Llama)
			if err != nil {
				t.Fatal(err)
			}
			params = m.NumParams()
		}
		if params != want {
			t.Errorf("%s: %d parameters, want %d", name, params, want)
		}
		if name == "gpt2" {
			lm, info, err := model.NewRandom(s, 1)
			if err != nil {
				t.Fatal(err)
			}
			if info.Params != want {
				t.Errorf("NewRandom info: %d parameters", info.Params)
			}
			V := lm.VocabSize()
			logits := make([]float32, V)
			if err := lm.Forward(lm.NewCache(1, 4), []int32{1, 2, 3, 4}, 1, 4, logits, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := model.Shape("llama-70b"); err == nil {
		t.Fatal("unknown shape accepted")
	}
}
