package tokenizer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/spm"
)

// The GGUF paths, fed what llama.cpp's converter writes for each model
// (tokens in id order, token types, merges as "a b", scores), must pass the
// same llama.cpp test vectors as the Hugging Face files.

func TestGGUFVectorsQwen2(t *testing.T) {
	data, err := os.ReadFile(testutil.SharedDir(t, "models", "qwen3-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Vocab  json.RawMessage `json:"vocab"`
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	vocab, err := parseVocab(f.Model.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		t.Fatal(err)
	}
	n := len(vocab) + len(f.AddedTokens)
	v := GGUFVocab{Model: "gpt2", Pre: "qwen2", Tokens: make([]string, n), TokenTypes: make([]int32, n),
		BOS: NoToken, EOS: NoToken, UNK: NoToken, PAD: NoToken, SEP: NoToken, CLS: NoToken}
	for tok, id := range vocab {
		v.Tokens[id], v.TokenTypes[id] = tok, spm.Normal
	}
	for _, a := range f.AddedTokens {
		v.Tokens[a.ID], v.TokenTypes[a.ID] = a.Content, spm.UserDefined
		if a.Special {
			v.TokenTypes[a.ID] = spm.Control
		}
	}
	for _, m := range merges {
		v.Merges = append(v.Merges, m[0]+" "+m[1])
	}
	p, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, p, "qwen3-tokenizer", "llamacpp-qwen2")
}

func TestGGUFVectorsLlamaSPM(t *testing.T) {
	data, err := os.ReadFile(testutil.SharedDir(t, "models", "llama2-tokenizer", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	proto, err := spm.ParseProto(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: proto.Pieces, Scores: proto.Scores, TokenTypes: proto.Types,
		BOS: 1, EOS: 2, UNK: 0, PAD: NoToken, SEP: NoToken, CLS: NoToken})
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, p, "llama2-tokenizer", "llamacpp-llama-spm")
}

func TestGGUFVectorsBERT(t *testing.T) {
	data, err := os.ReadFile(testutil.SharedDir(t, "models", "bert-uncased-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	vocab, err := parseVocab(f.Model.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	// llama.cpp's converter: "##x" -> "x", other words -> "▁x"; [..] specials
	// are control tokens.
	v := GGUFVocab{Model: "bert", Tokens: make([]string, len(vocab)), TokenTypes: make([]int32, len(vocab)),
		BOS: NoToken, EOS: NoToken, UNK: vocab["[UNK]"], PAD: vocab["[PAD]"], SEP: vocab["[SEP]"], CLS: vocab["[CLS]"]}
	for tok, id := range vocab {
		switch {
		case tok == "[PAD]" || tok == "[UNK]" || tok == "[CLS]" || tok == "[SEP]" || tok == "[MASK]":
			v.Tokens[id], v.TokenTypes[id] = tok, spm.Control
		case strings.HasPrefix(tok, "##"):
			v.Tokens[id], v.TokenTypes[id] = tok[2:], spm.Normal
		default:
			v.Tokens[id], v.TokenTypes[id] = "▁"+tok, spm.Normal
		}
	}
	p, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, p, "bert-uncased-tokenizer", "llamacpp-bert-bge")
	if got := p.Encode("hello", true); len(got) != 3 || got[0] != vocab["[CLS]"] || got[2] != vocab["[SEP]"] {
		t.Errorf("[CLS] hello [SEP]: got %v", got)
	}
	// Hugging Face's WordPiece decoder cleans up each token alone, so the
	// spaces around "'" stay.
	if got := p.Decode(p.Encode("Hello, world! It's", true), true); got != "hello, world! it ' s" {
		t.Errorf("decode: %q", got)
	}
}
