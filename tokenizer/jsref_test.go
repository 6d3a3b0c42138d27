package tokenizer

import (
	"encoding/json"
	"fmt"
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

// TestReferenceJS compares loft with two reference implementations run by
// node: Hugging Face's own tokenizers library (Rust, through the
// @anush008/tokenizers binding; ids and decoded text) and transformers.js
// (the @lenml/tokenizers fork; ids). The @lenml/tokenizer-* packages ship
// tokenizer.json files the shared assets lack: Llama 3 (ignore_merges),
// DeepSeek V3 (Split regexes only regexp2 runs), Gemma 3 (Split
// MergedWithPrevious, byte fallback over 262k pieces), GPT-4o (Split with
// invert) and "llama2" (Llama 2's legacy byte-fallback form, over what is
// in fact Mistral's 32k vocabulary: "▁" is 28705). The shared BERT, Qwen3
// and stories260K files and a Unigram model built from Llama 2's pieces
// are compared too, on real text, the llama.cpp vector inputs and text with
// special tokens in it.
//
// It needs node and the packages: testdata/jsref/install.sh DIR installs
// them; set LOFT_JSREF=DIR/node_modules. It is skipped otherwise.
func TestReferenceJS(t *testing.T) {
	modules := os.Getenv("LOFT_JSREF")
	if modules == "" {
		t.Skip("LOFT_JSREF not set: no JavaScript references (see testdata/jsref/gen.js)")
	}
	if testing.Short() {
		t.Skip("slow: loads large tokenizers and runs node")
	}
	texts := realTexts(t, 8)
	for _, v := range refdata.Vectors(t, "qwen3-tokenizer", "llamacpp-qwen2") {
		texts = append(texts, v.Text)
	}
	texts = append(texts, "Hello <s> world</s>", "<|im_start|>user\nhi<|im_end|>\n", "[CLS] a [SEP] b [MASK]",
		"<|begin_of_text|>x<|eot_id|>", "<bos><start_of_turn>user", "<｜User｜>hi<｜Assistant｜>", "  <s>  x", "A<Mask>in<|end|> <MASK>x")
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
	for _, rel := range [][]string{{"bert-uncased-tokenizer"}, {"qwen3-tokenizer"}, {"stories260K", "hf"}} {
		models = append(models, testutil.SharedDir(t, append([]string{"models"}, rel...)...))
	}
	// Unigram models: Llama 2's pieces, with their scores as log
	// probabilities, and Llama's normalizer and decoder; with and without
	// byte fallback (which transformers.js's Unigram lacks).
	models = append(models, unigramFromLlama2(t, dir, false), unigramFromLlama2(t, dir, true))
	// Forms built in the tests: the Metaspace form of stories260K's file,
	// and a "normalized": true added token under a Lowercase normalizer
	// (Hugging Face only: transformers.js matches added tokens in raw text).
	models = append(models, writeJSONModel(t, dir, "metaspace", metaspaceForm(t)), writeJSONModel(t, dir, "normalized-added", normalizedAddedJSON(t)))
	// A T5-style file (Hugging Face's SentencePiece conversion): Precompiled
	// normalizer, Metaspace pre-tokenizer, Unigram with user-defined pieces
	// as added tokens, from the clean_30k model sentencepiece-js carries.
	if spmModels, err := extractSPM(modules, dir); err == nil {
		models = append(models, writeJSONModel(t, dir, "t5-style", t5Style(t, spmModels["clean_30k"])),
			writeJSONModel(t, dir, "t5-style-smart", t5Style(t, spmModels["smart"])))
	} else {
		t.Logf("no sentencepiece-js models: %v", err)
	}
	for _, engine := range []string{"hf", "tfjs"} {
		script := map[string]string{"hf": "gen_hf.js", "tfjs": "gen.js"}[engine]
		for _, model := range models {
			name := filepath.Base(model)
			if engine == "tfjs" && (name == "unigram-bytes" || name == "normalized-added" || name == "metaspace" || strings.HasPrefix(name, "t5-style")) {
				continue
			}
			t.Run(engine+"/"+name, func(t *testing.T) {
				out := filepath.Join(dir, engine+"-"+name+".json")
				cmd := exec.Command("node", filepath.Join("testdata", "jsref", script), modules, model, in, out)
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("node %s: %v\n%.2000s", script, err, msg)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				var want struct {
					IDs  [][]int  `json:"ids"`
					Text []string `json:"text"`
				}
				if engine == "tfjs" {
					err = json.Unmarshal(b, &want.IDs)
				} else {
					err = json.Unmarshal(b, &want)
				}
				if err != nil {
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
				n := 0
				for k, x := range texts {
					got := p.Encode(x, false)
					if !slices.Equal(got, want.IDs[k]) && !(len(got) == 0 && len(want.IDs[k]) == 0) {
						i := 0
						for i < min(len(got), len(want.IDs[k])) && got[i] == want.IDs[k][i] {
							i++
						}
						t.Errorf("text %d %.60q: first difference at token %d:\n got %v\nwant %v", k, x, i,
							got[max(0, i-3):min(len(got), i+5)], want.IDs[k][max(0, i-3):min(len(want.IDs[k]), i+5)])
						continue
					}
					if want.Text != nil {
						if d := p.Decode(got, false); d != want.Text[k] {
							t.Errorf("decode of text %d %.60q:\n got %.80q\nwant %.80q", k, x, d, want.Text[k])
						}
					}
					n += len(got)
				}
				t.Logf("%s: %d texts, %d tokens equal to %s", name, len(texts), n, engine)
			})
		}
	}
}

// unigramFromLlama2 writes dir/unigram[-bytes]/tokenizer.json, a Unigram
// model over Llama 2's SentencePiece pieces and scores.
func unigramFromLlama2(t *testing.T, dir string, byteFallback bool) string {
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
			map[string]any{"id": 0, "content": "<unk>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			map[string]any{"id": 1, "content": "<s>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
			map[string]any{"id": 2, "content": "</s>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
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
		"model":          map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": byteFallback},
		"pre_tokenizer":  nil,
		"post_processor": nil,
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "unigram")
	if byteFallback {
		sub += "-bytes"
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return sub
}

// writeJSONModel writes data as dir/name/tokenizer.json and returns the folder.
func writeJSONModel(t *testing.T, dir, name string, data []byte) string {
	sub := filepath.Join(dir, name)
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return sub
}

// normalizedAddedJSON is the tiny byte-level tokenizer with a Lowercase
// normalizer and "<MASK>" added with "normalized": true.
func normalizedAddedJSON(t *testing.T) []byte {
	var f map[string]any
	if err := json.Unmarshal(tinyByteLevelJSON(), &f); err != nil {
		t.Fatal(err)
	}
	flags := map[string]any{"single_word": false, "lstrip": false, "rstrip": false}
	end := map[string]any{"id": 260, "content": "<|end|>", "special": true, "normalized": false}
	mask := map[string]any{"id": 261, "content": "<MASK>", "special": true, "normalized": true}
	for k, v := range flags {
		end[k], mask[k] = v, v
	}
	f["added_tokens"] = []any{end, mask}
	f["normalizer"] = map[string]any{"type": "Lowercase"}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReferenceSPM compares loft's tokenizer.model support with
// SentencePiece itself (compiled to WebAssembly, run by node) on real text:
// Llama 2's BPE model and two unigram models with nmt_nfkc normalization
// rules (precompiled charsmaps) that the sentencepiece-js package carries.
// Like TestReferenceJS it needs LOFT_JSREF.
func TestReferenceSPM(t *testing.T) {
	modules := os.Getenv("LOFT_JSREF")
	if modules == "" {
		t.Skip("LOFT_JSREF not set: no JavaScript references (see testdata/jsref/install.sh)")
	}
	dir := t.TempDir()
	script := filepath.Join("testdata", "jsref", "gen_spm.js")
	if msg, err := exec.Command("node", script, modules, "--extract", dir).CombinedOutput(); err != nil {
		t.Fatalf("node gen_spm.js --extract: %v\n%.2000s", err, msg)
	}
	texts := realTexts(t, 8)
	for _, v := range refdata.Vectors(t, "qwen3-tokenizer", "llamacpp-qwen2") {
		texts = append(texts, v.Text)
	}
	texts = append(texts, "  Ｈｅｌｌｏ  ①②  ﬁne  café  ㍿ \u00a0x\u3000y\t\tz  ", "ＡＢＣ１２３！？", "Ⅻ ½ ²", "")
	for k, s := range texts {
		texts[k] = strings.ToValidUTF8(s, "")
	}
	in := filepath.Join(dir, "texts.json")
	b, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{
		testutil.SharedDir(t, "models", "llama2-tokenizer", "tokenizer.model"),
		filepath.Join(dir, "clean_30k.model"),
		filepath.Join(dir, "smart.model"),
	} {
		t.Run(filepath.Base(model), func(t *testing.T) {
			out := filepath.Join(dir, filepath.Base(model)+".json")
			if msg, err := exec.Command("node", script, modules, model, in, out).CombinedOutput(); err != nil {
				t.Fatalf("node gen_spm.js: %v\n%.2000s", err, msg)
			}
			var want [][]int
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			p, err := LoadSentencePiece(model, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for k, x := range texts {
				got := p.Encode(x, false)
				if !slices.Equal(got, want[k]) && !(len(got) == 0 && len(want[k]) == 0) {
					i := 0
					for i < min(len(got), len(want[k])) && got[i] == want[k][i] {
						i++
					}
					tok := func(ids []int) []string {
						var s []string
						for _, id := range ids {
							tk, _ := p.Token(id)
							s = append(s, tk)
						}
						return s
					}
					t.Errorf("text %d %.60q: first difference at token %d:\n got %q\nwant %q", k, x, i,
						tok(got[max(0, i-3):min(len(got), i+5)]), tok(want[k][max(0, i-3):min(len(want[k]), i+5)]))
					continue
				}
				n += len(got)
			}
			t.Logf("%s: %d texts, %d tokens equal to SentencePiece", filepath.Base(model), len(texts), n)
		})
	}
}

// extractSPM writes the SentencePiece models sentencepiece-js carries into
// dir and returns their paths by name.
func extractSPM(modules, dir string) (map[string]string, error) {
	script := filepath.Join("testdata", "jsref", "gen_spm.js")
	if msg, err := exec.Command("node", script, modules, "--extract", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("node gen_spm.js --extract: %v\n%.2000s", err, msg)
	}
	return map[string]string{"clean_30k": filepath.Join(dir, "clean_30k.model"), "smart": filepath.Join(dir, "smart.model")}, nil
}

// t5Style converts a unigram tokenizer.model into the tokenizer.json that
// Hugging Face's T5/ALBERT converters write.
func t5Style(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	proto, err := spm.ParseProto(data)
	if err != nil {
		t.Fatal(err)
	}
	vocab := make([]any, len(proto.Pieces))
	var added []any
	for k, p := range proto.Pieces {
		vocab[k] = []any{p, proto.Scores[k]}
		if proto.Types[k] == spm.Control || proto.Types[k] == spm.Unknown || proto.Types[k] == spm.UserDefined {
			added = append(added, map[string]any{"id": k, "content": p, "special": proto.Types[k] != spm.UserDefined,
				"single_word": false, "lstrip": false, "rstrip": false, "normalized": proto.Types[k] == spm.UserDefined})
		}
	}
	metaspace := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	f := map[string]any{
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Precompiled", "precompiled_charsmap": proto.CharsMap},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "},
		}},
		"pre_tokenizer":  metaspace,
		"post_processor": nil,
		"decoder":        metaspace,
		"model":          map[string]any{"type": "Unigram", "unk_id": proto.UnkID, "vocab": vocab, "byte_fallback": false},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
