package tokenizer

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/internal/refdata"
	"github.com/loftml/loft/tokenizer/spm"
)

// TestTransformersJS compares loft with transformers.js (the @lenml
// tokenizers packages, which ship Llama 3, DeepSeek V3 and Gemma 3
// tokenizer.json files) on real text and the llama.cpp vector inputs. It
// covers what the shared assets do not: Llama 3's ignore_merges, Split
// regexes that only regexp2 runs (DeepSeek V3), and Split with
// MergedWithPrevious plus byte fallback over 262k pieces (Gemma 3).
//
// GPT-4o's (a Split with invert) and the "llama2" package's (Llama 2's
// legacy byte-fallback form, over what is in fact Mistral's 32k vocabulary:
// "▁" is 28705) are compared too.
//
// It needs node and the packages (see testdata/tfjs/gen.js); set LOFT_TFJS
// to their node_modules folder. It is skipped otherwise.
func TestTransformersJS(t *testing.T) {
	modules := os.Getenv("LOFT_TFJS")
	if modules == "" {
		t.Skip("LOFT_TFJS not set: no transformers.js reference (see testdata/tfjs/gen.js)")
	}
	if testing.Short() {
		t.Skip("slow: loads three large tokenizers and runs node")
	}
	texts := realTexts(t, 8)
	for _, v := range refdata.Vectors(t, "qwen3-tokenizer", "llamacpp-qwen2") {
		texts = append(texts, v.Text)
	}
	for k, s := range texts {
		// JavaScript strings cannot hold invalid UTF-8.
		texts[k] = strings.ToValidUTF8(s, "")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "texts.json")
	b, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	models := []string{"llama3", "deepseek_v3", "gemma3", "gpt4o", "llama2"}
	// The shared tokenizer.json files too: WordPiece above all, whose
	// llama.cpp vectors are few.
	for _, rel := range [][]string{{"bert-uncased-tokenizer"}, {"qwen3-tokenizer"}, {"stories260K", "hf"}} {
		models = append(models, testutil.SharedDir(t, append([]string{"models"}, rel...)...))
	}
	// A Unigram model: Llama 2's pieces, with their scores as log
	// probabilities, and Llama's normalizer and decoder. No byte fallback:
	// transformers.js's Unigram has none (Hugging Face's has; it is tested
	// by hand in package spm).
	models = append(models, unigramFromLlama2(t, dir))
	for _, model := range models {
		t.Run(filepath.Base(model), func(t *testing.T) {
			out := filepath.Join(dir, filepath.Base(model)+".json")
			cmd := exec.Command("node", filepath.Join("testdata", "tfjs", "gen.js"), modules, model, in, out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("node gen.js: %v\n%.2000s", err, msg)
			}
			var want [][]int
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			path := model
			if !filepath.IsAbs(model) {
				path = filepath.Join(modules, "@lenml", "tokenizer-"+model, "models")
			}
			p, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			wordPiece := filepath.Base(model) == "bert-uncased-tokenizer"
			n := 0
			for k, x := range texts {
				got := p.Encode(x, false)
				if !slices.Equal(got, want[k]) && !(len(got) == 0 && len(want[k]) == 0) {
					i := 0
					for i < min(len(got), len(want[k])) && got[i] == want[k][i] {
						i++
					}
					t.Fatalf("text %d %.60q: first difference at token %d:\n got %v\nwant %v", k, x, i,
						got[max(0, i-3):min(len(got), i+5)], want[k][max(0, i-3):min(len(want[k]), i+5)])
				}
				if d := p.Decode(got, false); d != x && !wordPiece && filepath.Base(model) != "unigram" {
					t.Fatalf("round trip of %.60q gave %.60q", x, d)
				}
				n += len(got)
			}
			t.Logf("%s: %d texts, %d tokens equal to transformers.js", filepath.Base(model), len(texts), n)

		})
	}
}

// unigramFromLlama2 writes dir/unigram/tokenizer.json, a Unigram model over
// Llama 2's SentencePiece pieces and scores.
func unigramFromLlama2(t *testing.T, dir string) string {
	data, err := os.ReadFile(testutil.SharedDir(t, "models", "llama2-tokenizer", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	proto, err := spm.ParseProto(data)
	if err != nil {
		t.Fatal(err)
	}
	vocab := make([]any, len(proto.Pieces))
	for k, p := range proto.Pieces {
		vocab[k] = []any{p, proto.Scores[k]}
	}
	f := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 0, "content": "<unk>", "special": true},
			map[string]any{"id": 1, "content": "<s>", "special": true},
			map[string]any{"id": 2, "content": "</s>", "special": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model":          map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": false},
		"pre_tokenizer":  nil,
		"post_processor": nil,
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "unigram")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return sub
}
