package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/internal/refdata"
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

// TestGGUFPreDigits checks the StarCoder/SmolLM pre-tokenizer family
// (llama.cpp: "\p{N}" then GPT-2's regex) over GPT-2's vocabulary and
// merges: hand-segmented ids, and the same ids as the tokenizer.json form
// those models ship (Digits with individual_digits, then ByteLevel) on real
// text and the llama.cpp GPT-2 vector inputs.
func TestGGUFPreDigits(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "gpt2-bpe")
	data, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		t.Fatal(err)
	}
	merges, _, err := readMerges(filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	v := GGUFVocab{Model: "gpt2", Pre: "smollm", Tokens: make([]string, len(vocab)), TokenTypes: make([]int32, len(vocab)),
		BOS: NoToken, EOS: NoToken, UNK: NoToken, PAD: NoToken, SEP: NoToken, CLS: NoToken}
	for tok, id := range vocab {
		v.Tokens[id], v.TokenTypes[id] = tok, spm.Normal
	}
	var mergeStrs []string
	for _, m := range merges {
		mergeStrs = append(mergeStrs, m[0]+" "+m[1])
	}
	v.Merges = mergeStrs
	g, err := FromGGUF(v)
	if err != nil {
		t.Fatal(err)
	}
	// Digits stand alone, and so does the space before them; GPT-2's own
	// regex would give " 123" as one word. Ids from vocab.json: "Hello"
	// 15496, "Ġworld" 995, "!" 0, "Ġ" 220, "1" 16, "2" 17, "3" 18, "x" 87,
	// "٣" (Arabic-Indic three, \p{N}) is the bytes D9 A3: "Ù" 149, "£" 96.
	for _, c := range []struct {
		text string
		want []int
	}{
		{"Hello world! 123", []int{15496, 995, 0, 220, 16, 17, 18}},
		{"x1x", []int{87, 16, 87}},
		{"٣3", []int{149, 96, 18}},
	} {
		if got := g.Encode(c.text, false); !slices.Equal(got, c.want) {
			t.Errorf("smollm %q = %v, want %v", c.text, got, c.want)
		}
	}
	js, err := json.Marshal(map[string]any{
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": mergeStrs},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	texts := realTexts(t, 4)
	for _, vec := range refdata.Vectors(t, "gpt2-bpe", "llamacpp-gpt-2") {
		texts = append(texts, vec.Text)
	}
	n := 0
	for _, x := range texts {
		a, b := g.Encode(x, false), h.Encode(x, false)
		if !slices.Equal(a, b) {
			t.Fatalf("%.60q:\n gguf smollm      %v\n tokenizer.json  %v", x, a[:min(len(a), 40)], b[:min(len(b), 40)])
		}
		n += len(a)
	}
	t.Logf("%d texts, %d tokens equal", len(texts), n)
}

// TestGGUFUnknownTypeIsSpecial: llama.cpp puts tokens of type UNKNOWN (2)
// with the control and user-defined ones in its special-token cache
// (llama_vocab::impl::load, "build special tokens cache"), so "<unk>"
// written in the text is that token, and token_to_piece leaves it out
// unless asked for special tokens. The byte-level BPE and WordPiece paths
// must treat it so too, as the SentencePiece path does.
func TestGGUFUnknownTypeIsSpecial(t *testing.T) {
	none := GGUFVocab{BOS: NoToken, EOS: NoToken, UNK: NoToken, PAD: NoToken, SEP: NoToken, CLS: NoToken}
	t.Run("gpt2", func(t *testing.T) {
		v := none
		v.Model, v.Pre = "gpt2", "gpt-2"
		v.Tokens = []string{"a", "b", "<", "u", "n", "k", ">", "<unk>"}
		v.TokenTypes = []int32{1, 1, 1, 1, 1, 1, 1, spm.Unknown}
		p, err := FromGGUF(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Encode("a<unk>b", false); !slices.Equal(got, []int{0, 7, 1}) {
			t.Errorf("Encode(a<unk>b) = %v, want [0 7 1]", got)
		}
		if !p.IsSpecial(7) || p.Decode([]int{0, 7, 1}, true) != "ab" {
			t.Errorf("<unk>: special %v, Decode skipping specials %q, want true and \"ab\"", p.IsSpecial(7), p.Decode([]int{0, 7, 1}, true))
		}
	})
	t.Run("bert", func(t *testing.T) {
		v := none
		v.Model = "bert"
		v.Tokens = []string{"[PAD]", "▁a", "<unk>", "▁<", "u", "n", "k", ">", "[CLS]", "[SEP]"}
		v.TokenTypes = []int32{spm.Control, 1, spm.Unknown, 1, 1, 1, 1, 1, spm.Control, spm.Control}
		v.UNK, v.CLS, v.SEP = 2, 8, 9
		p, err := FromGGUF(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Encode("a <unk>", false); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("Encode(a <unk>) = %v, want [1 2]", got)
		}
		if !p.IsSpecial(2) {
			t.Error("<unk> of type UNKNOWN is not special")
		}
	})
}
