package model_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBiasKeysPerArchitecture: transformers reads attention_bias and
// mlp_bias only where the architecture's modules do. MistralAttention and
// MistralMLP build every projection without a bias, Qwen2Attention gives
// q/k/v a bias and o_proj none, and Qwen2MLP and Qwen3MLP (GemmaMLP) have
// none, whatever config.json says; LlamaAttention, LlamaMLP and
// Qwen3Attention read the keys. So such a config must load the fixture
// and give its logits, bit for bit.
func TestBiasKeysPerArchitecture(t *testing.T) {
	mistral := func(s string) string {
		return strings.Replace(s, `"model_type": "llama",`, `"model_type": "mistral", "sliding_window": null,`, 1)
	}
	for _, tc := range []struct {
		name, fixture string
		edit          func(string) string
	}{
		{"qwen2", "qwen2-tiny", func(s string) string {
			return strings.Replace(s, `"model_type": "qwen2",`, `"model_type": "qwen2", "attention_bias": true, "mlp_bias": true,`, 1)
		}},
		{"qwen3", "qwen3-tiny", func(s string) string {
			return strings.Replace(s, `"attention_bias": false,`, `"attention_bias": false, "mlp_bias": true,`, 1)
		}},
		// llama-tiny read as Mistral without a sliding window is the same
		// model.
		{"mistral", "llama-tiny", mistral},
		{"mistral with biases", "llama-tiny", func(s string) string {
			return strings.NewReplacer(`"attention_bias": false`, `"attention_bias": true`, `"mlp_bias": false`, `"mlp_bias": true`).Replace(mistral(s))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(refDir, tc.fixture)
			ids := readExpected(t, dir).InputIDs[0]
			var cfg string
			edited := mutatedFixture(t, tc.fixture, func(s string) string {
				cfg = tc.edit(s)
				if cfg == s {
					t.Fatalf("the edit of %s's config.json changed nothing", tc.fixture)
				}
				return cfg
			}, nil)
			b, err := loadErr(edited)
			if err != nil {
				t.Fatal(err)
			}
			sameLogits(t, forward(t, load(t, dir), ids), forward(t, b, ids), "with "+cfg)
		})
	}
}
