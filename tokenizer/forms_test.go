package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// TestMetaspaceForm rewrites stories260K's tokenizer.json into the newer
// Metaspace form of Llama/Mistral files (no normalizer; a Metaspace
// pre-tokenizer with prepend_scheme "first" and split false; a Metaspace
// decoder) and checks that it encodes and decodes real text as the legacy
// form does.
func TestMetaspaceForm(t *testing.T) {
	meta := metaspaceForm(t)
	mp, err := ParseJSON(meta)
	if err != nil {
		t.Fatal(err)
	}
	legacy := loadShared(t, "stories260K", "hf")
	for _, x := range realTexts(t, 5) {
		x = x[:min(len(x), 3000)]
		x = x[:len(x)-partialTail([]byte(x))] // a whole last character: a cut one decodes as U+FFFD
		a, b := mp.Encode(x, true), legacy.Encode(x, true)
		if !slices.Equal(a, b) {
			t.Fatalf("%.50q:\n metaspace %v\n legacy    %v", x, a[:min(len(a), 30)], b[:min(len(b), 30)])
		}
		if got := mp.Decode(a, true); got != x {
			t.Fatalf("metaspace round trip of %.50q gave %.50q", x, got)
		}
	}
}

// BERT's template adds [CLS] and [SEP]; decoding skips them.
func TestBERTSpecial(t *testing.T) {
	p := loadShared(t, "bert-uncased-tokenizer")
	got := p.Encode("Hello world", true)
	if want := []int{101, 7592, 2088, 102}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := p.Decode(got, true); s != "hello world" {
		t.Errorf("decode: %q", s)
	}
	if s := p.Decode(got, false); s != "[CLS] hello world [SEP]" {
		t.Errorf("decode with specials: %q", s)
	}
	if sp := p.Specials(); sp.UNK != 100 || sp.BOS != 101 || sp.EOS != 102 {
		t.Errorf("specials %+v", sp)
	}
}

// Qwen3's specials come from tokenizer_config.json.
func TestQwen3Specials(t *testing.T) {
	p := loadShared(t, "qwen3-tokenizer")
	if sp := p.Specials(); sp.EOS != 151645 || sp.PAD != 151643 || sp.BOS != -1 {
		t.Errorf("specials %+v, want EOS <|im_end|> 151645, PAD <|endoftext|> 151643, no BOS", sp)
	}
	if got := p.Encode("<|im_start|>user\nhi<|im_end|>", true); !slices.Equal(got, []int{151644, 872, 198, 6023, 151645}) {
		t.Errorf("chat markup: %v", got)
	}
	// Untrusted text: "<|im_start|>" is text, "<think>" (not special) still one token.
	if got := p.EncodeSplitSpecial("<|im_start|><think>", false); !slices.Equal(got, []int{27, 91, 318, 4906, 91, 29, 151667}) {
		t.Errorf("split special: %v", got)
	}
	if p.VocabSize() != 151669 {
		t.Errorf("vocab size %d, want 151669 (151,643 + 26 added)", p.VocabSize())
	}
}

// In a folder with both, tokenizer.json wins over vocab.json + merges.txt.
func TestTokenizerJSONWins(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer.json", tinyByteLevelJSON())
	writeFile(t, dir, "vocab.json", []byte(`{"a": 0}`))
	writeFile(t, dir, "merges.txt", []byte("#version: 0.2\n"))
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Encode(" then", false); !slices.Equal(got, []int{258, 'n'}) {
		t.Errorf("got %v: not the tokenizer.json model", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
}

// A Pipeline is safe for concurrent use: goroutines encoding at once get
// the ids one goroutine gets (run with -race to check the caches).
func TestConcurrentEncode(t *testing.T) {
	p := loadShared(t, "qwen3-tokenizer")
	texts := realTexts(t, 3)
	want := make([][]int, len(texts))
	for k, x := range texts {
		want[k] = p.Encode(x, false)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range texts {
				k := (k + g) % len(texts)
				if !slices.Equal(p.Encode(texts[k], false), want[k]) {
					errs <- texts[k]
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for x := range errs {
		t.Errorf("concurrent encode of %.40q differs", x)
	}
}

// metaspaceForm returns stories260K's tokenizer.json in the Metaspace form.
func metaspaceForm(t *testing.T) []byte {
	path := testutil.SharedDir(t, "models", "stories260K", "hf", "tokenizer.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"] = nil
	f["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	f["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{
		map[string]any{"type": "ByteFallback"},
		map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
	}}
	meta, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// TestConfigPostProcessor: for the Llama, CodeLlama and Gemma classes,
// transformers' fast tokenizer rebuilds the post-processor from
// tokenizer_config.json's add_bos_token and add_eos_token (defaults true
// and false), whatever tokenizer.json's TemplateProcessing says; other
// classes keep the file's. stories260K's tokenizer.json adds <s> (1); "Once"
// is 403 and </s> is 2.
func TestConfigPostProcessor(t *testing.T) {
	js, err := os.ReadFile(filepath.Join(testutil.SharedDir(t, "models", "stories260K", "hf"), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		config string
		want   []int
	}{
		{`{"tokenizer_class": "LlamaTokenizer", "add_bos_token": true, "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}`, []int{1, 403, 2}},
		{`{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>"}`, []int{403}},
		{`{"tokenizer_class": "GemmaTokenizer", "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}`, []int{1, 403, 2}},
		{`{"tokenizer_class": "CodeLlamaTokenizerFast", "eos_token": "</s>"}`, []int{1, 403}},
		// Not a class that rebuilds it: tokenizer.json's post-processor.
		{`{"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": false, "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}`, []int{1, 403}},
		{`{"add_eos_token": true, "eos_token": "</s>"}`, []int{1, 403}},
	} {
		dir := t.TempDir()
		writeFile(t, dir, "tokenizer.json", js)
		writeFile(t, dir, "tokenizer_config.json", []byte(c.config))
		p, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Encode("Once", true); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(Once, special) = %v, want %v", c.config, got, c.want)
		}
		if got := p.Encode("Once", false); !slices.Equal(got, []int{403}) {
			t.Errorf("%s: Encode(Once) = %v, want [403]", c.config, got)
		}
	}
}

// TestMetaspaceDecoder: Hugging Face's Metaspace decoder drops every "▁"
// of the first token decoded when it prepends one (prepend_scheme always
// or first, or the older add_prefix_space true), and turns every other
// into a space; a skipped special token does not count as the first.
func TestMetaspaceDecoder(t *testing.T) {
	vocab := map[string]int{"<unk>": 0, "▁": 1, "▁▁": 2, "▁Hello": 3, "a▁b": 4, "<s>": 5}
	for _, c := range []struct {
		decoder map[string]any
		ids     []int
		skip    bool
		want    string
	}{
		{map[string]any{"prepend_scheme": "always"}, []int{2, 3}, false, " Hello"},
		{map[string]any{"prepend_scheme": "first"}, []int{2, 3}, false, " Hello"},
		{map[string]any{"prepend_scheme": "first"}, []int{4, 4}, false, "aba b"},
		{map[string]any{"add_prefix_space": true}, []int{1, 2, 3}, false, "   Hello"},
		{map[string]any{"prepend_scheme": "always"}, []int{5, 2, 3}, true, " Hello"},
		{map[string]any{"prepend_scheme": "always"}, []int{5, 2, 3}, false, "<s>   Hello"},
		{map[string]any{"prepend_scheme": "never"}, []int{2, 3}, false, "   Hello"},
		{map[string]any{"add_prefix_space": false}, []int{4}, false, "a b"},
	} {
		dec := map[string]any{"type": "Metaspace", "replacement": "▁", "split": true}
		for k, v := range c.decoder {
			dec[k] = v
		}
		js, err := json.Marshal(map[string]any{
			"added_tokens": []any{map[string]any{"id": 5, "content": "<s>", "special": true}},
			"model":        map[string]any{"type": "BPE", "vocab": vocab, "merges": []any{}},
			"decoder":      dec,
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseJSON(js)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Decode(c.ids, c.skip); got != c.want {
			t.Errorf("%v: Decode(%v, %v) = %q, want %q", c.decoder, c.ids, c.skip, got, c.want)
		}
		sd := p.NewStreamDecoder(c.skip)
		var got string
		for _, id := range c.ids {
			got += sd.Add(id)
		}
		if got += sd.Flush(); got != c.want {
			t.Errorf("%v: stream decoding %v = %q, want %q", c.decoder, c.ids, got, c.want)
		}
	}
}

// TestStripNormalizers: Strip reads strip_left and strip_right
// (tokenizers' normalizers/strip.rs); StripAccents removes every combining
// mark (Mn U+0301, Mc U+0903, Me U+20DD), as its is_combining_mark does.
func TestStripNormalizers(t *testing.T) {
	for _, c := range []struct {
		json, in, want string
	}{
		{`{"type": "Strip", "strip_left": true, "strip_right": false}`, "  a  ", "a  "},
		{`{"type": "Strip", "strip_left": false, "strip_right": true}`, "  a  ", "  a"},
		{`{"type": "Strip", "strip_left": true, "strip_right": true}`, " \t a \n", "a"},
		{`{"type": "StripAccents"}`, "e\u0301 क\u0903 a\u20dd ̃", "e क a "},
	} {
		var comp hfComp
		if err := json.Unmarshal([]byte(c.json), &comp); err != nil {
			t.Fatal(err)
		}
		f, err := (&builder{}).normalizer(&comp)
		if err != nil {
			t.Fatal(err)
		}
		if got := f(c.in); got != c.want {
			t.Errorf("%s: %q gave %q, want %q", c.json, c.in, got, c.want)
		}
	}
}

// TestSingleWordAddedToken: a single_word added token matches only where
// no word character (Rust's Unicode \w) is right before or after it, and
// the search goes on after a discarded match, as Hugging Face's
// added_vocabulary.rs does with its leftmost-longest automaton: "b" (262,
// not single_word) is not found inside a discarded "ab" (261).
func TestSingleWordAddedToken(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(tinyByteLevelJSON(), &f); err != nil {
		t.Fatal(err)
	}
	f["added_tokens"] = append(f["added_tokens"].([]any),
		map[string]any{"id": 261, "content": "ab", "single_word": true, "special": false, "normalized": false},
		map[string]any{"id": 262, "content": "b", "single_word": false, "special": false, "normalized": false})
	js, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	// Byte ids are the bytes: 'x' 120, ' ' 32, "é" 195 169, U+0301 204 129.
	for _, c := range []struct {
		text string
		want []int
	}{
		{"ab", []int{261}},
		{"x ab.", []int{'x', ' ', 261, '.'}},
		{"(ab)", []int{'(', 261, ')'}},
		{"xab", []int{'x', 'a', 'b'}},
		{"abx", []int{'a', 'b', 'x'}},
		{"ab_", []int{'a', 'b', '_'}},
		{"1ab", []int{'1', 'a', 'b'}},
		{"éab", []int{195, 169, 'a', 'b'}},
		{"ab\u0301", []int{'a', 'b', 204, 129}},
		{"xb", []int{'x', 262}},
		{"xab ab", []int{'x', 'a', 'b', ' ', 261}},
		{"<|end|>ab", []int{260, 261}},
	} {
		if got := p.Encode(c.text, false); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}
