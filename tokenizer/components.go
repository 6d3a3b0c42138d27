package tokenizer

// The tokenizer.json components: normalizers, pre-tokenizers,
// post-processors and decoders, built from their JSON by type, as Hugging
// Face's tokenizers defines each.

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/loftml/loft/tokenizer/pretok"
	"github.com/loftml/loft/tokenizer/spm"
	"github.com/loftml/loft/tokenizer/wordpiece"
)

func (b *builder) normalizer(c *hfComp) (func(string) string, error) {
	switch c.Type {
	case "Sequence":
		var fs []func(string) string
		for k, sub := range c.Normalizers {
			f, err := b.normalizer(sub)
			if err != nil {
				return nil, fmt.Errorf("normalizers[%d]: %w", k, err)
			}
			fs = append(fs, f)
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Lowercase":
		return strings.ToLower, nil
	case "Strip":
		// strip_left and strip_right (normalizers/strip.rs), which
		// tokenizers always writes; true when absent, as the Python
		// binding's Strip(left=True, right=True).
		left, right := c.StripLeft == nil || *c.StripLeft, c.StripRight == nil || *c.StripRight
		return func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}, nil
	case "StripAccents":
		// Every combining mark, Mn, Mc and Me, as tokenizers' StripAccents
		// (unicode_normalization's is_combining_mark: General_Category
		// Mark); BertNormalizer's strip_accents removes only Mn.
		return func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.Is(unicode.M, r) {
					return -1
				}
				return r
			}, s)
		}, nil
	case "Prepend":
		pre := c.Prepend
		return func(s string) string {
			if s == "" {
				return s
			}
			return pre + s
		}, nil
	case "Replace":
		if c.Pattern == nil {
			return nil, errors.New("Replace without pattern")
		}
		if c.Pattern.String != nil {
			old, new := *c.Pattern.String, c.Content
			return func(s string) string { return strings.ReplaceAll(s, old, new) }, nil
		}
		if c.Pattern.Regex != nil {
			re, err := regexp.Compile(*c.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("Replace regex: %w", err)
			}
			new := c.Content
			return func(s string) string { return re.ReplaceAllLiteralString(s, new) }, nil
		}
		return nil, errors.New("Replace pattern is neither String nor Regex")
	case "Precompiled":
		// SentencePiece's compiled rules (T5, ALBERT, XLM-R files), applied
		// longest match first as SentencePiece does.
		if len(c.CharsMap) == 0 {
			return func(s string) string { return s }, nil
		}
		n, err := spm.NewNormalizer(c.CharsMap, false, false, false)
		if err != nil {
			return nil, err
		}
		return n.Normalize, nil
	case "BertNormalizer":
		o := wordpiece.NormalizerOptions{
			CleanText:          c.CleanText == nil || *c.CleanText,
			HandleChineseChars: c.HandleChineseChars == nil || *c.HandleChineseChars,
			Lowercase:          c.Lowercase == nil || *c.Lowercase,
		}
		o.StripAccents = o.Lowercase
		if c.StripAccents != nil {
			o.StripAccents = *c.StripAccents
		}
		return func(s string) string { return wordpiece.Normalize(s, o) }, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported", c.Type)
}

type preFunc = func(s string, first bool, emit func(string))

func fromSplitter(sp pretok.Splitter) preFunc {
	return func(s string, _ bool, emit func(string)) { sp.Split(s, emit) }
}

func (b *builder) preTokenizer(c *hfComp) (preFunc, error) {
	switch c.Type {
	case "Sequence":
		var fs []preFunc
		for k, sub := range c.PreTokenizers {
			f, err := b.preTokenizer(sub)
			if err != nil {
				return nil, fmt.Errorf("pretokenizers[%d]: %w", k, err)
			}
			fs = append(fs, f)
		}
		if len(fs) == 0 {
			return nil, nil
		}
		f := fs[0]
		for _, g := range fs[1:] {
			f0, g := f, g
			f = func(s string, first bool, emit func(string)) {
				f0(s, first, func(w string) { g(w, first, emit) })
			}
		}
		return f, nil
	case "ByteLevel":
		b.byteLevel = true
		useRegex := c.UseRegex == nil || *c.UseRegex
		prefix := c.AddPrefixSpace != nil && *c.AddPrefixSpace
		split := pretok.Hand{Kind: pretok.GPT2}
		return func(s string, _ bool, emit func(string)) {
			if prefix && !strings.HasPrefix(s, " ") {
				s = " " + s
			}
			if useRegex {
				split.Split(s, emit)
			} else {
				emit(s)
			}
		}, nil
	case "Split":
		if c.Pattern == nil {
			return nil, errors.New("Split without pattern")
		}
		var pattern string
		switch {
		case c.Pattern.Regex != nil:
			pattern = *c.Pattern.Regex
		case c.Pattern.String != nil:
			pattern = regexp.QuoteMeta(*c.Pattern.String)
		default:
			return nil, errors.New("Split pattern is neither String nor Regex")
		}
		behaviors := map[string]pretok.Behavior{
			"Isolated": pretok.Isolated, "Removed": pretok.Removed, "MergedWithPrevious": pretok.MergedWithPrevious,
			"MergedWithNext": pretok.MergedWithNext, "Contiguous": pretok.Contiguous,
		}
		behavior, ok := behaviors[c.Behavior]
		if !ok {
			return nil, fmt.Errorf("Split behavior %q is not supported", c.Behavior)
		}
		// invert swaps the roles of matches and the text between them.
		if c.Invert {
			switch behavior {
			case pretok.Removed:
				behavior = pretok.MatchesOnly
			case pretok.Isolated:
			default:
				return nil, fmt.Errorf("Split behavior %q with invert is not supported", c.Behavior)
			}
		}
		if behavior == pretok.Isolated {
			if sp := pretok.ForPattern(pattern); sp != nil {
				return fromSplitter(sp), nil
			}
		}
		re, err := pretok.NewRegex(pattern, behavior)
		if err != nil {
			return nil, err
		}
		return fromSplitter(re), nil
	case "Metaspace":
		repl := c.Replacement
		if repl == "" {
			repl = "▁"
		}
		scheme := c.PrependScheme
		if scheme == "" {
			scheme = "always"
			if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
				scheme = "never"
			}
		}
		split := c.Split == nil || *c.Split
		b.prepended = scheme != "never"
		return func(s string, first bool, emit func(string)) {
			s = strings.ReplaceAll(s, " ", repl)
			if (scheme == "always" || (scheme == "first" && first)) && !strings.HasPrefix(s, repl) {
				s = repl + s
			}
			if !split {
				emit(s)
				return
			}
			// Each replacement character starts a new word.
			start := 0
			for i := 0; i < len(s); {
				j := strings.Index(s[i:], repl)
				if j < 0 {
					break
				}
				i += j
				if i > start {
					emit(s[start:i])
					start = i
				}
				i += len(repl)
			}
			if start < len(s) {
				emit(s[start:])
			}
		}, nil
	case "BertPreTokenizer":
		return func(s string, _ bool, emit func(string)) { wordpiece.PreTokenize(s, emit) }, nil
	case "WhitespaceSplit":
		return func(s string, _ bool, emit func(string)) {
			for _, w := range strings.Fields(s) {
				emit(w)
			}
		}, nil
	case "Whitespace":
		re, err := pretok.NewRegex(`\w+|[^\w\s]+`, pretok.Isolated)
		if err != nil {
			return nil, err
		}
		return func(s string, _ bool, emit func(string)) {
			re.Split(s, func(w string) {
				if strings.TrimSpace(w) != "" {
					emit(w)
				}
			})
		}, nil
	case "Digits":
		pat := `\p{N}+`
		if c.IndividualDigits {
			pat = `\p{N}`
		}
		re, err := pretok.NewRegex(pat, pretok.Isolated)
		if err != nil {
			return nil, err
		}
		return fromSplitter(re), nil
	case "Punctuation":
		return func(s string, _ bool, emit func(string)) {
			start := 0
			for i, r := range s {
				if wordpiece.IsPunctuation(r) {
					if i > start {
						emit(s[start:i])
					}
					n := len(string(r))
					emit(s[i : i+n])
					start = i + n
				}
			}
			if start < len(s) {
				emit(s[start:])
			}
		}, nil
	}
	return nil, fmt.Errorf("pre-tokenizer type %q is not supported", c.Type)
}

// tokenID resolves a [token, id] pair of Bert/RobertaProcessing.
func (b *builder) tokenID(pair []json.RawMessage) (int, error) {
	if len(pair) != 2 {
		return 0, errors.New("want [token, id]")
	}
	var id int
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, err
	}
	return id, nil
}

func (b *builder) postProcessor(c *hfComp) error {
	switch c.Type {
	case "Sequence":
		for k, sub := range c.Processors {
			if err := b.postProcessor(sub); err != nil {
				return fmt.Errorf("processors[%d]: %w", k, err)
			}
		}
		return nil
	case "ByteLevel":
		return nil
	case "TemplateProcessing":
		seen := false
		for _, piece := range c.Single {
			switch {
			case piece.Sequence != nil:
				seen = true
			case piece.SpecialToken != nil:
				st, ok := c.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("template names special token %q missing from special_tokens", piece.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || id >= len(b.p.tokens) {
						return fmt.Errorf("special token %q has id %d out of range", piece.SpecialToken.ID, id)
					}
				}
				if seen {
					b.p.suffix = append(b.p.suffix, st.IDs...)
				} else {
					b.p.prefix = append(b.p.prefix, st.IDs...)
				}
			}
		}
		return nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := b.tokenID(c.Cls)
		if err != nil {
			return fmt.Errorf("cls: %w", err)
		}
		sep, err := b.tokenID(c.Sep)
		if err != nil {
			return fmt.Errorf("sep: %w", err)
		}
		b.p.prefix = append(b.p.prefix, cls)
		b.p.suffix = append(b.p.suffix, sep)
		return nil
	}
	return fmt.Errorf("post-processor type %q is not supported", c.Type)
}

// decoder appends decoder steps; fused tells whether a Fuse came before, so
// that Strip acts on the whole text.
func (b *builder) decoder(c *hfComp, fused bool) error {
	switch c.Type {
	case "Sequence":
		for k, sub := range c.Decoders {
			if err := b.decoder(sub, fused); err != nil {
				return fmt.Errorf("decoders[%d]: %w", k, err)
			}
			if sub.Type == "Fuse" {
				fused = true
			}
		}
		return nil
	case "ByteLevel":
		b.p.steps = append(b.p.steps, decodeByteLevel)
	case "ByteFallback":
		b.p.byteRuns = true
	case "Fuse":
	case "Replace":
		if c.Pattern == nil || c.Pattern.String == nil {
			return errors.New("Replace decoder needs a String pattern")
		}
		b.p.steps = append(b.p.steps, decodeReplace(*c.Pattern.String, c.Content))
	case "Strip":
		if fused {
			if c.Content != " " || c.Stop != 0 {
				return fmt.Errorf("Strip of %q (start %d, stop %d) after Fuse is not supported", c.Content, c.Start, c.Stop)
			}
			b.p.stripLead = c.Start
			return nil
		}
		b.p.steps = append(b.p.steps, decodeStrip(c.Content, c.Start, c.Stop))
	case "Metaspace":
		repl := c.Replacement
		if repl == "" {
			repl = "▁"
		}
		prepend := c.PrependScheme != "never"
		if c.PrependScheme == "" && c.AddPrefixSpace != nil {
			prepend = *c.AddPrefixSpace
		}
		b.p.steps = append(b.p.steps, decodeMetaspace(repl, prepend))
	case "WordPiece":
		prefix := c.Prefix
		if prefix == "" {
			prefix = "##"
		}
		b.p.steps = append(b.p.steps, decodeWordPiece(prefix, c.Cleanup == nil || *c.Cleanup))
	case "BPEDecoder":
		b.p.steps = append(b.p.steps, decodeSuffix(c.Suffix))
	default:
		return fmt.Errorf("decoder type %q is not supported", c.Type)
	}
	return nil
}
