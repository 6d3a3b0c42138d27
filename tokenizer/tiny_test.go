package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/loftml/loft/tokenizer/bpe"
	"github.com/loftml/loft/tokenizer/pretok"
	"github.com/loftml/loft/tokenizer/spm"
)

// Tiny tokenizers built in the tests, so that the unit tests, the bad-input
// tests and the fuzz seeds need no shared assets.

// tinyByteLevelJSON is a byte-level BPE tokenizer.json: the 256 GPT-2 byte
// characters (ids 0..255 in byte order), merges Ġ+t, h+e, Ġt+he, i+n
// (ids 256..259), the special token <|end|> (260), Qwen2's Split regex then
// ByteLevel, and the ByteLevel decoder.
func tinyByteLevelJSON() []byte {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(bpe.ByteToRune[b])] = b
	}
	merges := [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}}
	for k, m := range merges {
		vocab[m[0]+m[1]] = 256 + k
	}
	// Every field Hugging Face's loader insists on is spelled out, so that
	// the reference test can hand this file to it too.
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	f := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []any{map[string]any{"id": 260, "content": "<|end|>", "special": true,
			"single_word": false, "lstrip": false, "rstrip": false, "normalized": false}},
		"normalizer": map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pretok.Qwen2Pattern}, "behavior": "Isolated", "invert": false},
			byteLevel,
		}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<|end|>", "type_id": 0}}},
			"pair":           []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<|end|>": map[string]any{"id": "<|end|>", "ids": []int{260}, "tokens": []string{"<|end|>"}}}},
		"decoder": byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": merges},
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

// protobuf encoding helpers for tinySPM.
func pbTag(b []byte, num, typ int) []byte { return binary.AppendUvarint(b, uint64(num<<3|typ)) }
func pbBytes(b []byte, num int, v []byte) []byte {
	b = pbTag(b, num, 2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
func pbInt(b []byte, num int, v int) []byte {
	return binary.AppendUvarint(pbTag(b, num, 0), uint64(v))
}

// tinySPMPieces: <unk> <s> </s>, the 256 byte pieces, then ▁ a b ▁a ab ▁ab.
func tinySPMPieces() (pieces []string, scores []float32, types []int32) {
	add := func(p string, s float32, t int32) {
		pieces, scores, types = append(pieces, p), append(scores, s), append(types, t)
	}
	add("<unk>", 0, spm.Unknown)
	add("<s>", 0, spm.Control)
	add("</s>", 0, spm.Control)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, spm.Byte)
	}
	add("▁", -10, spm.Normal)  // 259
	add("a", -11, spm.Normal)  // 260
	add("b", -12, spm.Normal)  // 261
	add("▁a", -1, spm.Normal)  // 262
	add("ab", -2, spm.Normal)  // 263
	add("▁ab", -3, spm.Normal) // 264
	return
}

// tinySPMModel serializes the tiny pieces as a tokenizer.model (BPE, byte
// fallback, identity normalizer with the dummy prefix, extra spaces kept).
func tinySPMModel() []byte { return tinySPMModelType(spm.TypeBPE) }

// tinySPMModelType is tinySPMModel with the given TrainerSpec.model_type.
func tinySPMModelType(modelType int) []byte {
	pieces, scores, types := tinySPMPieces()
	var m []byte
	for k := range pieces {
		var p []byte
		p = pbBytes(p, 1, []byte(pieces[k]))
		p = pbTag(p, 2, 5)
		p = binary.LittleEndian.AppendUint32(p, math.Float32bits(scores[k]))
		p = pbInt(p, 3, int(types[k]))
		m = pbBytes(m, 1, p)
	}
	var ts []byte
	ts = pbInt(ts, 3, modelType)
	ts = pbInt(ts, 35, 1)
	m = pbBytes(m, 2, ts)
	var ns []byte
	ns = pbBytes(ns, 1, []byte("identity"))
	ns = pbInt(ns, 3, 1)
	ns = pbInt(ns, 4, 0)
	m = pbBytes(m, 3, ns)
	return m
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Hand-computed ids for the tiny tokenizers.
func TestTinyKnownIDs(t *testing.T) {
	dir := t.TempDir()
	bl, err := LoadJSON(writeFile(t, dir, "tokenizer.json", tinyByteLevelJSON()))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSentencePiece(writeFile(t, dir, "tokenizer.model", tinySPMModel()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok     *Pipeline
		text    string
		special bool
		want    []int
	}{
		// "the": h+e first (rank 1), t+he has no merge: [t, he].
		{bl, "the", false, []int{'t', 257}},
		// " then": Ġ+t (rank 0), h+e, Ġt+he: [Ġthe, n].
		{bl, " then", false, []int{258, 'n'}},
		{bl, "in<|end|>in", false, []int{259, 260, 259}},
		{bl, "in", true, []int{259, 260}},
		// Ids are byte values: " " (Ġ) is 32. Words "a", " ", " b".
		{bl, "a  b", false, []int{'a', 32, 32, 'b'}},
		// "ab" -> "▁ab": ▁+a (score -1) first, then ▁a+b.
		{sp, "ab", false, []int{264}},
		{sp, "ab", true, []int{1, 264}},
		// "b" -> "▁b": no piece ▁b.
		{sp, "b", false, []int{259, 261}},
		// "c" is not a piece: byte fallback <0x63> = 3 + 0x63.
		{sp, "c", false, []int{259, 3 + 'c'}},
		{sp, "a b", false, []int{262, 259, 261}},
		{sp, "a<s>b", false, []int{262, 1, 259, 261}},
		{sp, "", true, []int{1}},
	} {
		if got := c.tok.Encode(c.text, c.special); !slices.Equal(got, c.want) {
			t.Errorf("%q (special %v): got %v, want %v", c.text, c.special, got, c.want)
		}
	}
	if got := sp.Decode([]int{1, 262, 259, 261, 3 + 'c', 2}, true); got != "a bc" {
		t.Errorf("SPM decode: %q", got)
	}
	if got := sp.Decode([]int{1, 262, 2}, false); got != "<s> a</s>" {
		t.Errorf("SPM decode with specials: %q", got)
	}
	if got := bl.Decode([]int{258, 'n', 260}, true); got != " then" {
		t.Errorf("byte-level decode: %q", got)
	}
}

// TestBrokenUTF8: ids that spell broken UTF-8 decode to valid UTF-8 as
// Hugging Face's decoders make it, and a stream decoder returns the same
// text in pieces, each character with the id that completes it. Byte-level
// tokens: one U+FFFD per maximal invalid subpart (ByteLevel's
// String::from_utf8_lossy; the tiny tokenizer's ids 0..255 are the bytes).
// <0xXX> tokens: a run of them that is not valid UTF-8 as a whole gives one
// U+FFFD per token (ByteFallback; the tiny SentencePiece model's byte
// pieces are 3 + the byte, 259 "▁", 260 "a"); a stream shows the run's
// characters before it ends, so where an invalid byte or a cut character
// comes after some of them, it keeps those and gives U+FFFD for the rest.
func TestBrokenUTF8(t *testing.T) {
	bl, err := ParseJSON(tinyByteLevelJSON())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSentencePiece(writeFile(t, t.TempDir(), "tokenizer.model", tinySPMModel()), nil)
	if err != nil {
		t.Fatal(err)
	}
	bt := func(bs ...byte) []int {
		var ids []int
		for _, b := range bs {
			ids = append(ids, 3+int(b))
		}
		return ids
	}
	const r = "\uFFFD"
	for _, c := range []struct {
		name   string
		p      *Pipeline
		ids    []int
		want   string
		stream string   // the stream's text where it is not want
		pieces []string // what Add returns for each id, then Flush
	}{
		{"byte-level truncated", bl, []int{0xE4, 0xB8, 'a'}, r + "a", "", []string{"", "", r + "a", ""}},
		{"byte-level at the end", bl, []int{'a', 0xF0, 0x9F, 0x98}, "a" + r, "", []string{"a", "", "", "", r}},
		{"byte-level bad bytes", bl, []int{0xFF, 0xFE, 0xC0, 0x80}, r + r + r + r, "", []string{r, r, r, r, ""}},
		{"byte-level bad second byte", bl, []int{0xE0, 0x80, 0xED, 0xA0, 0x80}, r + r + r + r + r, "", nil},
		{"byte-level valid", bl, []int{0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0xB6}, "中😶", "", []string{"", "", "中", "", "", "", "😶", ""}},
		{"byte fallback valid run", sp, append(bt(0xC3, 0xA9, 0xE4, 0xB8, 0xAD), 260), "é中a", "", []string{"", "é", "", "", "中", "a", ""}},
		{"byte fallback newline", sp, []int{260, 3 + '\n', 260}, "a\na", "", []string{"a", "\n", "a", ""}},
		{"byte fallback invalid run", sp, append(bt(0xE5, 0x8F), 260), r + r + "a", "", []string{"", "", r + r + "a", ""}},
		{"byte fallback run with a bad byte first", sp, append(bt(0xFF, 0xC3, 0xA9), 260), r + r + r + "a", "", []string{r, r, r, "a", ""}},
		{"byte fallback run with a bad byte later", sp, append(bt(0x41, 0xC3, 0xA9, 0xFF), 260, 260), r + r + r + r + "aa", "Aé" + r + "aa", []string{"A", "", "é", r, "a", "a", ""}},
		{"byte fallback bad second byte", sp, bt(0xE5, 0x41, 0x42), r + r + r, "", []string{"", r + r, r, ""}},
		{"byte fallback run at the end", sp, append([]int{259, 260}, bt(0xE5, 0x8F, 0xAB)...), "a叫", "", []string{"", "a", "", "", "叫", ""}},
		{"byte fallback truncated at the end", sp, append([]int{260}, bt(0xE5, 0x8F)...), "a" + r + r, "", []string{"a", "", "", r + r}},
		{"byte fallback truncated after a character", sp, bt(0x41, 0xE5, 0x8F), r + r + r, "A" + r + r, []string{"A", "", "", r + r}},
		{"byte fallback truncated before a token", sp, append(bt(0x41, 0xE5), 260), r + r + "a", "A" + r + "a", []string{"A", "", r + "a", ""}},
	} {
		if got := c.p.Decode(c.ids, true); got != c.want {
			t.Errorf("%s: Decode(%v) = %q, want %q", c.name, c.ids, got, c.want)
		}
		d := c.p.NewStreamDecoder(true)
		var pieces []string
		for _, id := range c.ids {
			pieces = append(pieces, d.Add(id))
		}
		pieces = append(pieces, d.Flush())
		want := c.want
		if c.stream != "" {
			want = c.stream
		}
		if got := strings.Join(pieces, ""); got != want {
			t.Errorf("%s: stream gave %q, want %q", c.name, got, want)
		}
		if c.pieces != nil && !slices.Equal(pieces, c.pieces) {
			t.Errorf("%s: stream pieces %q, want %q", c.name, pieces, c.pieces)
		}
	}
}

// TestBrokenUTF8Qwen3: the audit's case, Qwen3's byte tokens for E4 B8 and
// "a" (160, 116, 64), which transformers decodes to "\uFFFDa".
func TestBrokenUTF8Qwen3(t *testing.T) {
	p := loadShared(t, "qwen3-tokenizer")
	if got := p.Decode([]int{160, 116, 64}, false); got != "\uFFFDa" {
		t.Errorf("Decode = %q, want %q", got, "\uFFFDa")
	}
}

// TestStreamByteTokensLlama2: Llama 2 spells a newline and an emoji with
// <0xXX> tokens, and a stream returns each as soon as its last byte token
// comes, not with the next ordinary token: a stop string "\n" must end
// generation at the newline's token.
func TestStreamByteTokensLlama2(t *testing.T) {
	p := loadShared(t, "llama2-tokenizer")
	for _, c := range []struct {
		text, last, upTo string // upTo: the stream's text once the token last is added
	}{
		{"Hi\nthere", "<0x0A>", "Hi\n"},
		{"Hi 😀 there", "<0x80>", "Hi 😀"},
	} {
		ids := p.Encode(c.text, false)
		d := p.NewStreamDecoder(true)
		var got string
		found := false
		for _, id := range ids {
			got += d.Add(id)
			if tok, _ := p.Token(id); tok == c.last {
				found = true
				if got != c.upTo {
					t.Errorf("%q: stream text after %s is %q, want %q", c.text, c.last, got, c.upTo)
				}
			}
		}
		if !found {
			t.Fatalf("%q: no token %s in %v", c.text, c.last, ids)
		}
		if got += d.Flush(); got != c.text {
			t.Errorf("%q: stream gave %q", c.text, got)
		}
	}
}

// TestStreamDecoderPrime checks that a stream continuing a prompt keeps
// the space of its first word, which a stream of its own strips: the
// prompt's text and the primed stream's add up to the whole sequence's.
func TestStreamDecoderPrime(t *testing.T) {
	sp, err := LoadSentencePiece(writeFile(t, t.TempDir(), "tokenizer.model", tinySPMModel()), nil)
	if err != nil {
		t.Fatal(err)
	}
	prompt, gen := []int{1, 262}, []int{264, 262} // <s> "▁a", then "▁ab" "▁a"
	stream := func(d *StreamDecoder) string {
		var s string
		for _, id := range gen {
			s += d.Add(id)
		}
		return s + d.Flush()
	}
	if got, want := stream(sp.NewStreamDecoder(true)), "ab a"; got != want {
		t.Errorf("unprimed stream %q, want %q", got, want)
	}
	d := sp.NewStreamDecoder(true)
	d.Prime(prompt)
	got := stream(d)
	if want := " ab a"; got != want {
		t.Errorf("primed stream %q, want %q", got, want)
	}
	if whole := sp.Decode(append(slices.Clone(prompt), gen...), true); sp.Decode(prompt, true)+got != whole {
		t.Errorf("prompt %q + stream %q != whole %q", sp.Decode(prompt, true), got, whole)
	}
	d = sp.NewStreamDecoder(true)
	d.Prime([]int{1}) // BOS only: the stream starts the text
	if got := stream(d); got != "ab a" {
		t.Errorf("stream after BOS alone %q, want %q", got, "ab a")
	}
}

// Bad files give errors that name the file and the problem.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := tinyByteLevelJSON()
	var f map[string]any
	if err := json.Unmarshal(good, &f); err != nil {
		t.Fatal(err)
	}
	f["model"].(map[string]any)["merges"] = []any{[]string{"Ġ", "t"}, []string{"q", "zz"}}
	badMerge, _ := json.Marshal(f)
	f["model"].(map[string]any)["merges"] = []any{}
	f["model"].(map[string]any)["type"] = "WordLevel"
	wordLevel, _ := json.Marshal(f)
	spmModel := tinySPMModel()
	for _, c := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"truncated json", "tokenizer.json", good[:len(good)/2], "bad JSON: it ends early, at line 1"},
		{"empty json", "tokenizer.json", nil, "empty file, expected JSON"},
		{"not json", "tokenizer.json", []byte("hello"), "bad JSON at line 1, column 1: invalid character 'h'"},
		// The field and its line, in JSON's words rather than Go types.
		{"wrong kind", "tokenizer.json", []byte("{\"model\": {\"type\": \"BPE\",\n\"byte_fallback\": 1}}"), `bad JSON at line 2, column 18: "model.byte_fallback" is a JSON number, want true or false`},
		{"not a tokenizer.json", "tokenizer.json", []byte(`{"chat_template": "x"}`), `not a tokenizer.json: no "model" object`},
		{"unknown merge token", "tokenizer.json", badMerge, `"zz" is not in the vocabulary`},
		{"unsupported model", "tokenizer.json", wordLevel, `model type "WordLevel" is not supported`},
		{"huge id", "tokenizer.json", []byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":4000000000},"merges":[]}}`), "far beyond"},
		{"truncated protobuf", "tokenizer.model", spmModel[:len(spmModel)-7], "not a SentencePiece model"},
		{"garbage protobuf", "tokenizer.model", []byte{0xff, 0xff, 0xff}, "not a SentencePiece model"},
		{"empty protobuf", "tokenizer.model", nil, "not a SentencePiece model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, sub, c.file, c.data)
			_, err := Load(sub)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, path, c.want)
			}
		})
	}
	t.Run("gpt2 files", func(t *testing.T) {
		sub := filepath.Join(dir, "gpt2")
		os.Mkdir(sub, 0o755)
		writeFile(t, sub, "vocab.json", []byte(`{"a": 0, "b": 1, "ab": 2}`))
		mp := writeFile(t, sub, "merges.txt", []byte("#version: 0.2\na b\nab\n"))
		_, err := Load(sub)
		if err == nil || !strings.Contains(err.Error(), mp+":3") {
			t.Fatalf("error %v, want one naming %s:3", err, mp)
		}
		// A merge with a missing token names its line (the version line
		// and a blank line come first).
		writeFile(t, sub, "merges.txt", []byte("#version: 0.2\n\na b\na c\n"))
		want := mp + `:4: merge "a" "c": "c" is not in vocab.json`
		if _, err := Load(sub); err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		writeFile(t, sub, "merges.txt", []byte("a b\nb a\n"))
		want = mp + `:2: merge "b" "a": "ba" is not in vocab.json`
		if _, err := Load(sub); err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		vp := writeFile(t, sub, "vocab.json", []byte(`{"a": 0, "b": 1,`+"\n"+`"ab": "2"}`))
		want = vp + `: bad JSON at line 2, column 9: a value is a JSON string, want an integer`
		if _, err := Load(sub); err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		// vocab.json or merges.txt named alone loads the pair, even beside
		// a tokenizer.json (which the folder would prefer).
		writeFile(t, sub, "vocab.json", []byte(`{"a": 0, "b": 1, "ab": 2}`))
		writeFile(t, sub, "merges.txt", []byte("a b\n"))
		writeFile(t, sub, "tokenizer.json", []byte(`{}`))
		for _, name := range []string{"vocab.json", "merges.txt"} {
			p, err := Load(filepath.Join(sub, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := p.Encode("abba", false); !slices.Equal(got, []int{2, 1, 0}) {
				t.Errorf("%s: Encode(abba) = %v, want [2 1 0]", name, got)
			}
		}
		if _, err := Load(sub); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
			t.Fatalf("folder: error %v, want the tokenizer.json's", err)
		}
		// Half of the pair.
		if err := os.Remove(filepath.Join(sub, "tokenizer.json")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(mp); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{sub, vp} {
			want = sub + ": vocab.json without the merges.txt that goes with it"
			if _, err := Load(path); err == nil || err.Error() != want {
				t.Fatalf("%s: error %v, want %s", path, err, want)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := Load(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("error %v", err)
		}
		if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("gguf", func(t *testing.T) {
		pieces, scores, types := tinySPMPieces()
		for _, v := range []GGUFVocab{
			{Model: "llama"},
			{Model: "llama", Tokens: pieces, Scores: scores[:3], TokenTypes: types},
			{Model: "llama", Tokens: pieces, Scores: scores, TokenTypes: types, BOS: 99999},
			{Model: "gpt2", Pre: "no-such-pre", Tokens: pieces, BOS: -1, EOS: -1, UNK: -1, PAD: -1, SEP: -1, CLS: -1},
			{Model: "gpt2", Tokens: pieces, Merges: []string{"a zz"}, BOS: -1, EOS: -1, UNK: -1, PAD: -1, SEP: -1, CLS: -1},
			{Model: "t5", Tokens: pieces},
		} {
			if _, err := FromGGUF(v); err == nil {
				t.Errorf("%s/%q with %d tokens: no error", v.Model, v.Pre, len(v.Tokens))
			}
		}
	})
}

// The GGUF "llama" path equals tokenizer.model over the same pieces.
func TestTinyGGUFEqualsModel(t *testing.T) {
	pieces, scores, types := tinySPMPieces()
	g, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: pieces, Scores: scores, TokenTypes: types,
		BOS: 1, EOS: 2, UNK: 0, PAD: NoToken, SEP: NoToken, CLS: NoToken})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSentencePiece(writeFile(t, t.TempDir(), "tokenizer.model", tinySPMModel()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"", "ab ab  b", "abc\n", "日本 ab", "\xffa"} {
		if a, b := g.Encode(x, true), sp.Encode(x, true); !slices.Equal(a, b) {
			t.Errorf("%q: gguf %v, model %v", x, a, b)
		}
	}
}

// fuzzTokenizers are the tiny tokenizers, plus Qwen3 and Llama 2 when the
// shared assets are there.
func fuzzTokenizers(f *testing.F) map[string]*Pipeline {
	out := map[string]*Pipeline{}
	var err error
	if out["tiny-bytelevel"], err = ParseJSON(tinyByteLevelJSON()); err != nil {
		f.Fatal(err)
	}
	proto, err := spm.ParseProto(tinySPMModel())
	if err != nil {
		f.Fatal(err)
	}
	if out["tiny-spm"], err = newSPM(spmParams{pieces: proto.Pieces, scores: proto.Scores, types: proto.Types,
		unk: proto.UnkID, bos: proto.BOSID, eos: proto.EOSID, pad: proto.PadID,
		byteFallback: proto.ByteFallback, addPrefix: proto.AddDummyPrefix, addBOS: true}); err != nil {
		f.Fatal(err)
	}
	root := filepath.Join("..", "..", "shared", "models")
	if s := os.Getenv("LOFT_SHARED"); s != "" {
		root = filepath.Join(s, "models")
	}
	for name, sub := range map[string]string{"qwen3": "qwen3-tokenizer", "llama2": "llama2-tokenizer"} {
		if p, err := Load(filepath.Join(root, sub)); err == nil {
			out[name] = p
		}
	}
	return out
}

// FuzzEncode: any bytes encode without panic and decode to valid UTF-8;
// byte-level BPE round-trips every valid input whose NFC form is itself;
// SentencePiece round-trips valid inputs without "▁" or control-token text.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "the then", "in<|end|>in", "ab  b\n", "中文 ½ 😶\u200d🌫️", "\xff\xfe", "a\u0301", "<s>", "▁x", "'ll 'S"} {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		for name, p := range toks {
			ids := p.Encode(s, true)
			got := p.Decode(p.Encode(s, false), false)
			check := false
			switch name {
			case "tiny-bytelevel", "qwen3":
				check = norm.NFC.String(s) == s
			case "tiny-spm", "llama2":
				check = !strings.Contains(s, "▁") && !strings.Contains(s, "<")
			}
			// Decoding invalid UTF-8 gives U+FFFD.
			if !utf8.ValidString(s) {
				if !utf8.ValidString(got) {
					t.Fatalf("%s: decoding %q gave invalid UTF-8 %q", name, s, got)
				}
				check = false
			}
			if check && got != s {
				t.Fatalf("%s: round trip of %q gave %q (ids %v)", name, s, got, ids)
			}
		}
	})
}

// FuzzParseJSON: any bytes parse without panic, and what parses encodes.
func FuzzParseJSON(f *testing.F) {
	good := tinyByteLevelJSON()
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2},"unk_token":"[UNK]"},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},"decoder":{"type":"WordPiece"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"byte_fallback":true},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["▁a",-1.5],["b",-2],["▁",-3]],"byte_fallback":false},"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"▁"},"pre_tokenizer":{"type":"Split","pattern":{"String":"▁"},"behavior":"MergedWithNext","invert":false}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Contiguous","invert":false},{"type":"Digits","individual_digits":true},{"type":"Punctuation"},{"type":"WhitespaceSplit"}]},"post_processor":{"type":"BertProcessing","cls":["a",0],"sep":["b",1]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "ab ab", "the then<|end|>", "\xff"} {
			p.Decode(p.Encode(s, true), false)
		}
	})
}

// FuzzParseProto: any bytes parse without panic, and what parses as BPE
// builds and encodes.
func FuzzParseProto(f *testing.F) {
	m := tinySPMModel()
	f.Add(m)
	f.Add(m[:len(m)/2])
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := spm.ParseProto(data)
		if err != nil {
			return
		}
		tok, err := newSPM(spmParams{pieces: p.Pieces, scores: p.Scores, types: p.Types, unk: p.UnkID,
			bos: min(p.BOSID, len(p.Pieces)-1), eos: min(p.EOSID, len(p.Pieces)-1), pad: min(p.PadID, len(p.Pieces)-1),
			byteFallback: p.ByteFallback, addPrefix: p.AddDummyPrefix})
		if err != nil {
			return
		}
		tok.Decode(tok.Encode("ab b\xff", true), false)
	})
}

// A unigram tokenizer.model: hand-computed Viterbi over the tiny pieces.
func TestTinyUnigramModel(t *testing.T) {
	p, err := LoadSentencePiece(writeFile(t, t.TempDir(), "tokenizer.model", tinySPMModelType(spm.TypeUnigram)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int{
		"ab": {264},          // ▁ab -3 beats ▁+ab -12, ▁a+b -13
		"b":  {259, 261},     // ▁+b
		"c":  {259, 3 + 'c'}, // c is unknown: byte fallback
		"a":  {262},
	} {
		if got := p.Encode(text, false); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
		if got := p.Decode(p.Encode(text, true), true); got != text {
			t.Errorf("round trip of %q: %q", text, got)
		}
	}
}

// Older folders: tokens added after training come from added_tokens.json
// and tokenizer_config.json's added_tokens_decoder.
func TestAddedTokensJSON(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer.model", tinySPMModel())
	writeFile(t, dir, "added_tokens.json", []byte(`{"[PAD]": 265, "<x>": 266}`))
	writeFile(t, dir, "tokenizer_config.json", []byte(`{"add_bos_token": false, "pad_token": "[PAD]",
		"added_tokens_decoder": {"1": {"content": "<s>", "special": true}, "265": {"content": "[PAD]", "special": true}}}`))
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Encode("a<x>[PAD]", true), []int{262, 266, 265}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := p.Decode([]int{262, 266, 265}, true); got != "a<x>" {
		t.Errorf("decode skipping specials: %q", got)
	}
	if sp := p.Specials(); sp.PAD != 265 || p.VocabSize() != 267 {
		t.Errorf("specials %+v, vocab size %d", sp, p.VocabSize())
	}
	writeFile(t, dir, "added_tokens.json", []byte(`{"[PAD]": 260}`))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `which is "a" in the vocabulary`) {
		t.Errorf("conflicting id: %v", err)
	}
}

// A "normalized": true added token matches in normalized text, its own
// content normalized too: with a Lowercase normalizer "<MASK>" is found as
// "<mask>" in "A<Mask>", which raw matching would miss.
func TestNormalizedAddedToken(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(tinyByteLevelJSON(), &f); err != nil {
		t.Fatal(err)
	}
	f["added_tokens"] = append(f["added_tokens"].([]any), map[string]any{"id": 261, "content": "<MASK>", "special": true, "normalized": true})
	f["normalizer"] = map[string]any{"type": "Lowercase"}
	b, _ := json.Marshal(f)
	p, err := ParseJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Encode("A<Mask>in<|end|>", false), []int{'a', 261, 259, 260}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := p.EncodeSplitSpecial("<MASK>", false); slices.Contains(got, 261) {
		t.Errorf("split special still matched <MASK>: %v", got)
	}
}

// FuzzFromGGUF: any tokenizer.ggml.* values build without panic, and what
// builds encodes and decodes.
func FuzzFromGGUF(f *testing.F) {
	f.Add(uint8(0), "<unk>|<s>|</s>|▁a|b|▁ab|<0x61>", []byte{2, 3, 3, 1, 1, 1, 6}, "▁a b")
	f.Add(uint8(1), "a|b|ab|Ġ|Ġa|<|x|>", []byte{1, 1, 1, 1, 1, 3}, "a b|Ġ a")
	f.Add(uint8(2), "[UNK]|[CLS]|[SEP]|▁hello|llo|▁he", []byte{3, 3, 3, 1, 1, 1}, "")
	f.Fuzz(func(t *testing.T, model uint8, tokens string, types []byte, merges string) {
		v := GGUFVocab{Model: []string{"llama", "gpt2", "bert"}[model%3], Tokens: strings.Split(tokens, "|"),
			BOS: NoToken, EOS: NoToken, UNK: 0, PAD: NoToken, SEP: NoToken, CLS: NoToken}
		v.Scores = make([]float32, len(v.Tokens))
		v.TokenTypes = make([]int32, len(v.Tokens))
		for k := range v.Tokens {
			v.Scores[k] = -float32(k)
			if k < len(types) {
				v.TokenTypes[k] = int32(types[k] % 7)
			}
		}
		if merges != "" {
			v.Merges = strings.Split(merges, "|")
		}
		p, err := FromGGUF(v)
		if err != nil {
			return
		}
		for _, s := range []string{"", "hello ab", "\xff<s>a"} {
			p.Decode(p.Encode(s, true), false)
		}
	})
}
