package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/pretok"
)

// ggufPreTok is what a tokenizer.ggml.pre name selects in llama.cpp
// (llama_vocab::impl::load and llm_tokenizer_bpe): the pre-tokenizer
// regexes, and two flags some families set.
type ggufPreTok struct {
	split        pretok.Splitter
	ignoreMerges bool // a pre-token found whole in the vocabulary is one token
	addBOS       bool // BOS is added unless tokenizer.ggml.add_bos_token says otherwise
}

// The regexes llama.cpp runs for the BPE families, one after the other (see
// chain). Where llama.cpp spells a regex differently from the model's
// tokenizer.json only because std::regex lacks \p{Lu} and friends or
// case-insensitive groups, the tokenizer.json form is used: regexp2 runs it.
const (
	// llama.cpp's default list, for "default" and a missing name.
	preDefaultPunct = `[\p{P}\$\+<=>\^~\|]+`
	preDigitsRun    = `\p{N}+`
	preThreeDigits  = `[0-9][0-9][0-9]`
	// Falcon: the default's punctuation class plus '`'.
	preFalconPunct = "[\\p{P}\\$\\+<=>\\^~\\|`]+"
	// DeepSeek LLM (7B/67B): newline alone, Latin/Greek/Cyrillic/... letter
	// runs, ASCII and full-width punctuation runs, trailing spaces, CJK runs,
	// digit runs.
	preDeepSeekPunct = `\s?[!-/:-~！-／：-～‘-‟　-。]+`
	preDeepSeekCJK   = `[一-龥ࠀ-一가-퟿]+`
	// DeepSeek V3 (and Hunyuan dense): digits in threes, CJK and kana runs,
	// then a Llama-3-like regex over letters+marks and punctuation+symbols.
	preDeepSeek3CJK  = `[一-龥぀-ゟ゠-ヿ]+`
	preDeepSeek3Main = `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// BLOOM, Poro and GPT-3 Finnish: anything but whitespace and a few
	// punctuation marks, with one optional leading space.
	preBloom = ` ?[^(\s|.,!?…。，、।۔،)]+`
	// Tekken (Mistral Nemo): words split at case changes, single digits.
	preTekken = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// GPT-4o (o200k), Llama 4, MiniMax M2: Tekken's words with contractions
	// attached, digits in threes.
	preGPT4o = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Chameleon: sentinel and image tokens, tabs, newlines and space pairs,
	// single digits, single punctuation marks, then GPT-2's regex.
	preChameleonSentinel = `<sentinel:[0-9]+>`
	preChameleonImage    = `(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`
	preChameleonSpace    = `([\t\n]|    |  )`
	preChameleonPunct    = `[\p{P}!-/:-@\[-` + "`" + `{-~]`
	// Ling/Bailing MoE: Qwen2's regex with a lone \r or \n. llama.cpp makes
	// the tokenizer.json's possessive quantifiers greedy, as here.
	preBailing = `'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`
	// Seed-Coder: single digits, punctuation runs stop at newlines.
	preSeedCoder = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// ggufPre maps tokenizer.ggml.pre to llama.cpp's pre-tokenizer for that
// name. The published GPT-2, Llama 3 and Qwen2 regexes run through the
// hand-written splitters; the others through regexp2.
func ggufPre(name string) (ggufPreTok, error) {
	gpt2 := pretok.Hand{Kind: pretok.GPT2}
	var (
		t    ggufPreTok
		list []any // pretok.Splitter or a regex string, run in order
	)
	switch name {
	case "", "default":
		// llama.cpp warns that generation quality will suffer and uses these.
		list = []any{preDefaultPunct, gpt2, preDigitsRun, preThreeDigits}
	case "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4",
		"jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code",
		"roberta-bpe", "a.x-4.0", "mellum", "modern-bert":
		list = []any{gpt2}
	case "llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
		list = []any{pretok.Hand{Kind: pretok.Llama3}}
		t.ignoreMerges, t.addBOS = true, true
	case "dbrx", "smaug-bpe", "chatglm-bpe", "glm4":
		list = []any{pretok.Hand{Kind: pretok.Llama3}}
	case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "megrez", "hunyuan", "grok-2", "solar-open":
		list = []any{pretok.Hand{Kind: pretok.Qwen2}}
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
		// As the models' tokenizer.json files run Digits with
		// individual_digits before ByteLevel.
		list = []any{singleDigits{}, gpt2}
	case "deepseek-llm":
		list = []any{`[\r\n]`, deepSeekLetters(), preDeepSeekPunct, `\s+$`, preDeepSeekCJK, preDigitsRun}
	case "deepseek-coder":
		list = []any{`[\r\n]`, `\s?\p{L}+`, `\s?\p{P}+`, preDeepSeekCJK, singleDigits{}}
	case "deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm":
		list = []any{`\p{N}{1,3}`, preDeepSeek3CJK, preDeepSeek3Main}
	case "falcon":
		list = []any{preFalconPunct, gpt2, preThreeDigits}
	case "poro-chat", "bloom", "gpt3-finnish":
		list = []any{preBloom}
	case "viking":
		list = []any{preBloom, singleDigits{}}
	case "tekken":
		list = []any{preTekken}
		t.ignoreMerges, t.addBOS = true, true
	case "chameleon":
		list = []any{preChameleonSentinel, preChameleonImage, preChameleonSpace, singleDigits{}, preChameleonPunct, gpt2}
		t.addBOS = true
	case "gpt-4o", "llama4", "minimax-m2", "kanana2", "talkie":
		list = []any{preGPT4o}
	case "bailingmoe", "bailingmoe2", "llada-moe":
		list = []any{preBailing}
	case "seed-coder":
		list = []any{preSeedCoder}
	default:
		return t, fmt.Errorf("GGUF: tokenizer.ggml.pre %q is not supported (llama.cpp's names are, except those with regexes of their own since minimax-m2: superbpe, kimi-k2, afmoe, jais-2, qwen35, gemma4, minicpm5, ...)", name)
	}
	var c chain
	for _, e := range list {
		switch e := e.(type) {
		case pretok.Splitter:
			c = append(c, e)
		case string:
			re, err := pretok.NewRegex(e, pretok.Isolated)
			if err != nil {
				return t, fmt.Errorf("GGUF: tokenizer.ggml.pre %q: %w", name, err)
			}
			c = append(c, re)
		}
	}
	t.split = c
	if len(c) == 1 {
		t.split = c[0]
	}
	return t, nil
}

// chain runs splitters one after another, each over every piece of the one
// before: llama.cpp's unicode_regex_split over a list of regexes, and a
// tokenizer.json Sequence of Isolated Splits.
type chain []pretok.Splitter

// Split implements pretok.Splitter.
func (c chain) Split(s string, emit func(string)) {
	if len(c) == 0 {
		emit(s)
		return
	}
	c[0].Split(s, func(piece string) { c[1:].Split(piece, emit) })
}

// singleDigits cuts every \p{N} character out on its own (the regex "\p{N}"
// with the Isolated behavior). An invalid UTF-8 byte is not a digit.
type singleDigits struct{}

// Split implements pretok.Splitter.
func (singleDigits) Split(s string, emit func(string)) {
	start := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if unicode.IsNumber(r) {
			if start < i {
				emit(s[start:i])
			}
			emit(s[i : i+w])
			start = i + w
		}
		i += w
	}
	if start < len(s) {
		emit(s[start:])
	}
}

// deepSeekCased are the ranges of DeepSeek LLM's letter class: the cased
// letters (Lu, Ll, Lt) of Unicode. They are code points here, not literal
// characters, because several of them (U+1F7D, U+2126, U+212A, ...) have
// canonical equivalents that a normalizing editor would swap in.
var deepSeekCased = [][2]rune{
	{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA}, {0x1BC, 0x1BF},
	{0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F},
	{0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481},
	{0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
	{0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
	{0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
	{0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC},
	{0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102},
	{0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
	{0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
	{0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3},
	{0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
	{0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3},
	{0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
}

// deepSeekLetters is DeepSeek LLM's letter-run regex: \s?[cased letters]+.
func deepSeekLetters() string {
	var b strings.Builder
	b.WriteString(`\s?[`)
	for _, r := range deepSeekCased {
		b.WriteRune(r[0])
		if r[1] != r[0] {
			b.WriteByte('-')
			b.WriteRune(r[1])
		}
	}
	b.WriteString(`]+`)
	return b.String()
}
