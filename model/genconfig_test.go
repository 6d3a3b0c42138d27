package model_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerationConfig: eos_token_id may be a list (llama3-tiny's config
// [2, 3]); generation_config.json overrides config.json and carries the
// sampling defaults; without a tokenizer nothing adds BOS.
func TestGenerationConfig(t *testing.T) {
	b := load(t, filepath.Join(refDir, "llama3-tiny"))
	if b.Gen.BOS != 1 || !slices.Equal(b.Gen.EOS, []int{2, 3}) || b.Gen.AddBOS || b.Tokenizer != nil || b.Chat != nil {
		t.Fatalf("llama3-tiny gen %+v", b.Gen)
	}
	g := load(t, filepath.Join(refDir, "gpt2-tiny"))
	if g.Gen.BOS != 127 || !slices.Equal(g.Gen.EOS, []int{127}) {
		t.Fatalf("gpt2-tiny gen %+v", g.Gen)
	}

	dir := t.TempDir()
	src := filepath.Join(refDir, "llama3-tiny")
	for _, f := range []string{"config.json", "model.safetensors"} {
		abs, _ := filepath.Abs(filepath.Join(src, f))
		if err := os.Symlink(abs, filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	gen := `{"bos_token_id": 5, "eos_token_id": [7, 8, 9], "temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.1, "min_p": 0.05}`
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	b = load(t, dir)
	G := b.Gen
	if G.BOS != 5 || !slices.Equal(G.EOS, []int{7, 8, 9}) || G.Temperature == nil || *G.Temperature != 0.6 ||
		G.TopP == nil || *G.TopP != 0.9 || G.TopK == nil || *G.TopK != 20 || G.RepetitionPenalty == nil ||
		*G.RepetitionPenalty != 1.1 || G.MinP == nil || *G.MinP != 0.05 {
		t.Fatalf("gen %+v", G)
	}
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"eos_token_id": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadErr(dir); err == nil {
		t.Fatal("string eos_token_id accepted")
	}
}
