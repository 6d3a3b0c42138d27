package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/bpe"
)

// gpt2Folder copies the shared GPT-2 vocab.json and merges.txt into a new
// folder with the given tokenizer_config.json.
func gpt2Folder(t *testing.T, config string) string {
	src := testutil.SharedDir(t, "models", "gpt2-bpe")
	dir := t.TempDir()
	for _, name := range []string{"vocab.json", "merges.txt"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, name, data)
	}
	writeFile(t, dir, "tokenizer_config.json", []byte(config))
	return dir
}

// TestGPT2ClassDefaults: the stock gpt2 tokenizer_config.json is only
// {"model_max_length": 1024}; transformers' GPT2Tokenizer still makes
// <|endoftext|> (50256) its BOS, EOS and UNK, a special token matched whole
// ("Hi" is 17250) and skipped in decoding. A key set to null drops the
// default.
func TestGPT2ClassDefaults(t *testing.T) {
	p, err := Load(gpt2Folder(t, `{"model_max_length": 1024}`))
	if err != nil {
		t.Fatal(err)
	}
	ids := p.Encode("Hi<|endoftext|>", false)
	if want := []int{17250, 50256}; !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if s := p.Decode(ids, true); s != "Hi" {
		t.Errorf("Decode skipping specials = %q, want \"Hi\"", s)
	}
	if sp := p.Specials(); sp != (Specials{BOS: 50256, EOS: 50256, UNK: 50256, PAD: -1}) {
		t.Errorf("specials %+v", sp)
	}

	p, err = Load(gpt2Folder(t, `{"tokenizer_class": "GPT2Tokenizer", "bos_token": null, "unk_token": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if sp := p.Specials(); sp != (Specials{BOS: -1, EOS: 50256, UNK: -1, PAD: -1}) {
		t.Errorf("with bos_token and unk_token null: specials %+v", sp)
	}
	if ids := p.Encode("Hi<|endoftext|>", false); !slices.Equal(ids, []int{17250, 50256}) {
		t.Errorf("with bos_token null: Encode = %v", ids)
	}
}

// TestClassDefaultsInAddedTokensJSON: a folder whose <|endoftext|> is in
// added_tokens.json, not vocab.json (usual for Qwen-style files), and
// whose config has no added_tokens_decoder still gets the class's default
// specials, as transformers gives it: the default is applied once the
// added tokens are in. The shared GPT-2 files, <|endoftext|> (50256) moved.
func TestClassDefaultsInAddedTokensJSON(t *testing.T) {
	src := gpt2Folder(t, `{}`)
	data, err := os.ReadFile(filepath.Join(src, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		t.Fatal(err)
	}
	if vocab[endOfText] != 50256 {
		t.Fatalf("shared vocab.json: %s is %d", endOfText, vocab[endOfText])
	}
	delete(vocab, endOfText)
	if data, err = json.Marshal(vocab); err != nil {
		t.Fatal(err)
	}
	merges, err := os.ReadFile(filepath.Join(src, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		config   string
		specials Specials
		bos      bool // Encode with special tokens starts with 50256
	}{
		{`{"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}`, Specials{BOS: 50256, EOS: 50256, UNK: 50256, PAD: -1}, false},
		{`{"tokenizer_class": "GPT2Tokenizer", "add_bos_token": true}`, Specials{BOS: 50256, EOS: 50256, UNK: 50256, PAD: -1}, true},
		{`{"tokenizer_class": "Qwen2Tokenizer"}`, Specials{BOS: -1, EOS: 50256, UNK: 50256, PAD: 50256}, false},
	} {
		dir := t.TempDir()
		writeFile(t, dir, "vocab.json", data)
		writeFile(t, dir, "merges.txt", merges)
		writeFile(t, dir, "added_tokens.json", []byte(`{"<|endoftext|>": 50256}`))
		writeFile(t, dir, "tokenizer_config.json", []byte(c.config))
		p, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if sp := p.Specials(); sp != c.specials {
			t.Errorf("%s: specials %+v, want %+v", c.config, sp, c.specials)
		}
		ids := p.Encode("Hi<|endoftext|>", true)
		want := []int{17250, 50256}
		if c.bos {
			want = append([]int{50256}, want...)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: Encode = %v, want %v", c.config, ids, want)
		}
		if s := p.Decode(ids, true); s != "Hi" {
			t.Errorf("%s: Decode skipping specials = %q, want \"Hi\"", c.config, s)
		}
	}
}

// TestQwen2ClassVocabMerges: a Qwen2Tokenizer folder with vocab.json +
// merges.txt splits digits one by one (Qwen2's regex), NFC-normalizes
// (Qwen2Tokenizer.prepare_for_tokenization), and has <|endoftext|> as EOS,
// UNK and PAD but no BOS. The vocabulary: the 256 byte characters (ids in
// byte order), then "12" (256), "Ã©" (257, the bytes of é) and
// <|endoftext|> (258).
func TestQwen2ClassVocabMerges(t *testing.T) {
	vocab := map[string]int{"12": 256, "Ã©": 257, "<|endoftext|>": 258}
	for b := range 256 {
		vocab[string(bpe.ByteToRune[b])] = b
	}
	data, err := json.Marshal(vocab)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		class         string
		digits, acute []int
		specials      Specials
	}{
		{"Qwen2Tokenizer", []int{'1', '2', '3'}, []int{257}, Specials{BOS: -1, EOS: 258, UNK: 258, PAD: 258}},
		{"Qwen2TokenizerFast", []int{'1', '2', '3'}, []int{257}, Specials{BOS: -1, EOS: 258, UNK: 258, PAD: 258}},
		// GPT-2: "123" is one word, and no normalization: e, then U+0301 (CC 81).
		{"GPT2Tokenizer", []int{256, '3'}, []int{'e', 0xCC, 0x81}, Specials{BOS: 258, EOS: 258, UNK: 258, PAD: -1}},
	} {
		dir := t.TempDir()
		writeFile(t, dir, "vocab.json", data)
		writeFile(t, dir, "merges.txt", []byte("#version: 0.2\n1 2\nÃ ©\n"))
		writeFile(t, dir, "tokenizer_config.json", []byte(`{"tokenizer_class": "`+c.class+`"}`))
		p, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Encode("123", false); !slices.Equal(got, c.digits) {
			t.Errorf("%s: Encode(123) = %v, want %v", c.class, got, c.digits)
		}
		if got := p.Encode("e\u0301", false); !slices.Equal(got, c.acute) {
			t.Errorf("%s: Encode(e + U+0301) = %v, want %v", c.class, got, c.acute)
		}
		if got := p.Encode("1<|endoftext|>", false); !slices.Equal(got, []int{'1', 258}) {
			t.Errorf("%s: Encode(1<|endoftext|>) = %v", c.class, got)
		}
		if sp := p.Specials(); sp != c.specials {
			t.Errorf("%s: specials %+v, want %+v", c.class, sp, c.specials)
		}
	}
}

// TestSpecialTokensMap: beside a config without added_tokens_decoder,
// special_tokens_map.json names special tokens too, and wins (transformers'
// from_pretrained, legacy branch); its additional_special_tokens become
// special ("Hello" is 15496 in GPT-2, " world" 995). With
// added_tokens_decoder the file is ignored.
func TestSpecialTokensMap(t *testing.T) {
	const specialMap = `{"eos_token": {"content": "<|endoftext|>", "single_word": false}, "pad_token": "<|endoftext|>", "bos_token": null, "additional_special_tokens": ["Hello"]}`
	for _, c := range []struct {
		config   string
		specials Specials
		decoded  string
	}{
		{`{"model_max_length": 1024, "pad_token": "!", "bos_token": "<|endoftext|>"}`, Specials{BOS: -1, EOS: 50256, UNK: 50256, PAD: 50256}, " world"},
		{`{"added_tokens_decoder": {}}`, Specials{BOS: 50256, EOS: 50256, UNK: 50256, PAD: -1}, "Hello world"},
	} {
		dir := gpt2Folder(t, c.config)
		writeFile(t, dir, "special_tokens_map.json", []byte(specialMap))
		p, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if sp := p.Specials(); sp != c.specials {
			t.Errorf("%s: specials %+v, want %+v", c.config, sp, c.specials)
		}
		if s := p.Decode(p.Encode("Hello world", false), true); s != c.decoded {
			t.Errorf("%s: Decode(Encode(Hello world)) skipping specials = %q, want %q", c.config, s, c.decoded)
		}
	}
}
