package llama

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	base := `"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 128`
	for _, tc := range []struct {
		name, json string
		check      func(Config) bool
		err        string
	}{
		{"defaults", `{"model_type": "llama", ` + base + `}`, func(c Config) bool {
			return c.NumKVHeads == 4 && c.HeadDim == 16 && c.RopeTheta == 1e4 && c.RMSNormEps == 1e-6 && c.MaxPositions == 2048 && !c.Tied() && !c.QKVBias
		}, ""},
		{"qwen2 biases", `{"model_type": "qwen2", "tie_word_embeddings": true, ` + base + `}`, func(c Config) bool { return c.QKVBias && c.Tied() }, ""},
		{"qwen3 head_dim", `{"model_type": "qwen3", "head_dim": 8, ` + base + `}`, func(c Config) bool { return c.QKNorm && c.HeadDim == 8 }, ""},
		{"mistral window", `{"model_type": "mistral", "max_position_embeddings": 32768, "sliding_window": 4096, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 4096 }, ""},
		{"mistral no window", `{"model_type": "mistral", "max_position_embeddings": 32768, "sliding_window": null, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen2 window off", `{"model_type": "qwen2", "max_position_embeddings": 32768, "sliding_window": 4096, "use_sliding_window": false, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		// Qwen2/Qwen3 slide only in layers from max_window_layers (28
		// when absent) on, or those layer_types names, and only with
		// use_sliding_window; the window is 4096 when absent. A windowed
		// layer caps the context at the window.
		{"qwen2 no sliding layer", `{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 2, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen2 max_window_layers absent", `{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 64, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen2 last layer slides", `{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 1, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 64 }, ""},
		{"qwen3 window absent", `{"model_type": "qwen3", "use_sliding_window": true, "max_window_layers": 0, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 4096 }, ""},
		{"qwen2 layer_types slide", `{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 28, "layer_types": ["full_attention", "sliding_attention"], ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 64 }, ""},
		{"qwen2 layer_types full", `{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 0, "layer_types": ["full_attention", "full_attention"], ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen2 layer_types without use_sliding_window", `{"model_type": "qwen2", "sliding_window": 64, "layer_types": ["sliding_attention", "sliding_attention"], ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"llama ignores windows", `{"model_type": "llama", "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 0, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 2048 }, ""},
		{"linear rope", `{"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 2}, ` + base + `}`,
			func(c Config) bool { return c.RopeScaling != nil && c.RopeScaling.RopeType == "linear" }, ""},
		{"mistral window absent", `{"model_type": "mistral", "max_position_embeddings": 32768, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 4096 }, ""},
		// max_position_embeddings absent: LlamaConfig's 2048 (above),
		// MistralConfig's 4096·32, Qwen2Config's and Qwen3Config's 32768.
		{"mistral positions absent", `{"model_type": "mistral", "sliding_window": null, ` + base + `}`,
			func(c Config) bool { return c.MaxPositions == 131072 }, ""},
		{"qwen2 positions absent", `{"model_type": "qwen2", ` + base + `}`, func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen3 positions absent", `{"model_type": "qwen3", ` + base + `}`, func(c Config) bool { return c.MaxPositions == 32768 }, ""},
		{"qwen3 head_dim absent", `{"model_type": "qwen3", ` + base + `}`, func(c Config) bool { return c.HeadDim == 128 }, ""},
		{"llama3 rope_parameters", `{"model_type": "llama", "rope_theta": 10000, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000, "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}, ` + base + `}`,
			func(c Config) bool {
				return c.RopeTheta == 5e5 && c.RopeScaling != nil && c.RopeScaling.RopeType == "llama3" && c.RopeScaling.Factor == 8
			}, ""},
		{"default rope_parameters", `{"model_type": "qwen2", "rope_parameters": {"rope_type": "default", "rope_theta": 1000000}, ` + base + `}`,
			func(c Config) bool { return c.RopeTheta == 1e6 && c.RopeScaling == nil }, ""},
		{"bad rope_parameters", `{"model_type": "llama", "rope_parameters": [1], ` + base + `}`, nil, "cfg.json"},
		{"missing", `{"model_type": "llama", "hidden_size": 64}`, nil, "intermediate_size, num_hidden_layers, num_attention_heads, vocab_size"},
		{"negative head_dim", `{"model_type": "llama", "head_dim": -8, ` + base + `}`, nil, "head_dim -8"},
		{"negative positions", `{"model_type": "llama", "max_position_embeddings": -5, ` + base + `}`, nil, "max_position_embeddings -5"},
		{"bad gqa", `{"model_type": "llama", "num_key_value_heads": 3, ` + base + `}`, nil, "num_key_value_heads 3"},
		{"yarn", `{"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4}, ` + base + `}`, nil, `"yarn" is not supported`},
		{"gelu", `{"model_type": "llama", "hidden_act": "gelu", ` + base + `}`, nil, "hidden_act"},
		{"not json", `{"model_type": `, nil, "cfg.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json), "cfg.json")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "cfg.json") {
					t.Fatalf("error %v, want one naming cfg.json and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}
