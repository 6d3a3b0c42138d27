package model

import (
	"fmt"
	"sort"

	"github.com/loftml/loft/model/gpt2"
	"github.com/loftml/loft/model/llama"
)

// ShapeConfig is a named model shape for benchmarks on random weights,
// copied from ../shared/bench/torch_lora_bench.py so loft and PyTorch run
// the same sizes.
type ShapeConfig struct {
	Name  string
	Arch  string       // "llama", "qwen2" or "gpt2"
	Llama llama.Config // for llama and qwen2
	GPT2  gpt2.Config  // for gpt2
}

func tied() *bool { t := true; return &t }

// shapes are the benchmark's CONFIGS, under their model names and the
// benchmark's own keys.
var shapes = map[string]func() ShapeConfig{
	// GPT-2 small (124M): 12 layers, d=768, 12 heads, vocab 50257, ctx 1024.
	"gpt2": func() ShapeConfig {
		return ShapeConfig{Arch: "gpt2", GPT2: gpt2.Config{NEmbd: 768, NLayer: 12, NHead: 12, NPositions: 1024, VocabSize: 50257, LNEps: 1e-5, Activation: "gelu_new"}}
	},
	// SmolLM-135M: 30 layers, d=576, 9 heads, 3 KV heads, ffn 1536, vocab 49152, tied.
	"smollm-135m": func() ShapeConfig {
		return ShapeConfig{Arch: "llama", Llama: llama.Config{ModelType: "llama", HiddenSize: 576, IntermediateSize: 1536,
			NumLayers: 30, NumHeads: 9, NumKVHeads: 3, VocabSize: 49152, MaxPositions: 2048, RMSNormEps: 1e-5,
			RopeTheta: 1e4, TieWordEmbeddings: tied()}}
	},
	// Qwen2.5-0.5B: 24 layers, d=896, 14 heads, 2 KV heads, ffn 4864, vocab 151936, q/k/v biases, tied.
	"qwen2.5-0.5b": func() ShapeConfig {
		return ShapeConfig{Arch: "qwen2", Llama: llama.Config{ModelType: "qwen2", HiddenSize: 896, IntermediateSize: 4864,
			NumLayers: 24, NumHeads: 14, NumKVHeads: 2, VocabSize: 151936, MaxPositions: 32768, RMSNormEps: 1e-6,
			RopeTheta: 1e6, TieWordEmbeddings: tied()}}
	},
}

// shapeAliases maps the PyTorch benchmark's keys to the names above.
var shapeAliases = map[string]string{"smollm135": "smollm-135m", "qwen05": "qwen2.5-0.5b"}

// ShapeNames lists the named shapes.
func ShapeNames() []string {
	var ns []string
	for n := range shapes {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Shape returns the named benchmark shape: "gpt2", "smollm-135m" or
// "qwen2.5-0.5b" (or the benchmark's keys "smollm135", "qwen05").
func Shape(name string) (ShapeConfig, error) {
	if a, ok := shapeAliases[name]; ok {
		name = a
	}
	f, ok := shapes[name]
	if !ok {
		return ShapeConfig{}, fmt.Errorf("unknown model shape %q (known: %v)", name, ShapeNames())
	}
	s := f()
	s.Name = name
	switch s.Arch {
	case "gpt2":
		if err := s.GPT2.Normalize(); err != nil {
			return s, err
		}
	default:
		if err := s.Llama.Normalize(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// NewRandom builds a float32 model of shape s with weights drawn from a
// generator seeded with seed (matrices N(0, 0.02), biases 0, norms 1, as
// the PyTorch benchmark), and returns it with its Info.
func NewRandom(s ShapeConfig, seed uint64) (CausalLM, Info, error) {
	b := &Bundle{}
	switch s.Arch {
	case "gpt2":
		m, err := gpt2.New(s.GPT2)
		if err != nil {
			return nil, Info{}, err
		}
		m.Randomize(seed)
		b.LM, b.Info = m, gpt2Info(m)
	case "llama", "qwen2", "qwen3":
		m, err := llama.New(s.Llama)
		if err != nil {
			return nil, Info{}, err
		}
		m.Randomize(seed)
		b.LM, b.Info = m, llamaInfo(s.Arch, m)
	default:
		return nil, Info{}, fmt.Errorf("shape %q: unknown architecture %q", s.Name, s.Arch)
	}
	b.Info.Format, b.Info.DType = "random", "F32"
	return b.LM, b.Info, nil
}
