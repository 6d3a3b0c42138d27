// Package wordpiece is BERT's tokenizer: its normalizer (clean up, split
// Chinese characters, strip accents, lowercase), its pre-tokenizer (split on
// whitespace, isolate punctuation) and the WordPiece model (greedy
// longest-match-first with "##" continuations), as Hugging Face tokenizers
// define them.
package wordpiece

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizerOptions are BertNormalizer's settings.
type NormalizerOptions struct {
	CleanText          bool // drop control characters, map whitespace to ' '
	HandleChineseChars bool // put spaces around CJK ideographs
	StripAccents       bool // NFD, then drop nonspacing marks (Mn)
	Lowercase          bool
}

// Normalize applies BertNormalizer to s.
func Normalize(s string, o NormalizerOptions) string {
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s {
		if o.CleanText {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		if o.HandleChineseChars && isCJK(r) {
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
			continue
		}
		sb.WriteRune(r)
	}
	s = sb.String()
	if o.StripAccents {
		s = norm.NFD.String(s)
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, s)
	}
	if o.Lowercase {
		s = strings.ToLower(s)
	}
	return s
}

// isWhitespace is BERT's: ' ', \t, \n, \r and the Zs category.
func isWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isControl is BERT's: "other" categories (Cc, Cf, Co, Cs, unassigned) but
// not \t, \n, \r.
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isCJK reports the CJK Unified Ideograph blocks BERT treats as words, as
// Hugging Face's tokenizers (normalizers/bert.rs is_chinese_char) and
// llama.cpp define them: Extension E from U+2B920, where Google's BERT
// and transformers' slow BasicTokenizer start at U+2B820, so that
// U+2B820..U+2B91F stay inside their word.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// IsPunctuation is BERT's: ASCII symbols and the Unicode P categories.
func IsPunctuation(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

// PreTokenize is BertPreTokenizer: split s on whitespace (dropped) and make
// every punctuation character a word of its own.
func PreTokenize(s string, emit func(string)) {
	start := -1
	for i, r := range s {
		switch {
		case unicode.IsSpace(r):
			if start >= 0 {
				emit(s[start:i])
				start = -1
			}
		case IsPunctuation(r):
			if start >= 0 {
				emit(s[start:i])
				start = -1
			}
			emit(s[i : i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		emit(s[start:])
	}
}

// Model is the WordPiece model.
type Model struct {
	Vocab    map[string]int
	Unk      int    // id of the unknown token
	Prefix   string // continuation prefix, "##"
	MaxChars int    // longer words become Unk (100 in BERT)
}

// Encode appends the ids of word: the longest vocabulary entry from the
// left, then the longest "##" continuation, and so on; a word that cannot be
// covered is one Unk.
func (m *Model) Encode(dst []int, word string) []int {
	if utf8.RuneCountInString(word) > m.MaxChars {
		return append(dst, m.Unk)
	}
	start0 := len(dst)
	var buf []byte
	for start := 0; start < len(word); {
		found := -1
		end := len(word)
		for end > start {
			var id int
			var ok bool
			if start == 0 {
				id, ok = m.Vocab[word[:end]]
			} else {
				buf = append(append(buf[:0], m.Prefix...), word[start:end]...)
				id, ok = m.Vocab[string(buf)]
			}
			if ok {
				found = id
				break
			}
			// Step back one character.
			_, w := utf8.DecodeLastRuneInString(word[start:end])
			end -= w
		}
		if found < 0 {
			return append(dst[:start0], m.Unk)
		}
		dst = append(dst, found)
		start = end
	}
	return dst
}
