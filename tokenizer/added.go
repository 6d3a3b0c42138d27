package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched in the raw text before the model runs (Hugging
// Face's added_tokens; control and user-defined pieces of SentencePiece and
// GGUF). Its text is never split.
type AddedToken struct {
	ID      int
	Content string
	Special bool // a control token: skipped by Decode with skipSpecial
	// Normalized tokens are matched in normalized text, their content
	// normalized too (Hugging Face's "normalized": true); others in the raw
	// text, first.
	Normalized bool
	LStrip     bool // the match also swallows whitespace on its left
	RStrip     bool // the match also swallows whitespace on its right
	// SingleWord tokens match only where no word character (\w) comes
	// right before or after them.
	SingleWord bool
}

// addedMatcher finds added tokens in text, leftmost first and longest at a
// position, as Hugging Face's Aho-Corasick (leftmost-longest) does.
type addedMatcher struct {
	byFirst [256][]AddedToken // by first byte, longest first
}

func newAddedMatcher(tokens []AddedToken) *addedMatcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &addedMatcher{}
	for _, t := range tokens {
		if t.Content == "" {
			continue
		}
		m.byFirst[t.Content[0]] = append(m.byFirst[t.Content[0]], t)
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].Content) > len(l[j].Content) })
	}
	return m
}

// split calls fn with the text between added tokens (id -1) and with each
// added token found (seg its content), in order. Empty text is left out.
func (m *addedMatcher) split(text string, fn func(seg string, id int)) {
	if m == nil {
		if text != "" {
			fn(text, -1)
		}
		return
	}
	start := 0 // start of the pending text segment
	for i := 0; i < len(text); i++ {
		cands := m.byFirst[text[i]]
		if len(cands) == 0 {
			continue
		}
		for _, t := range cands {
			if !strings.HasPrefix(text[i:], t.Content) {
				continue
			}
			a, b := i, i+len(t.Content)
			if t.SingleWord && (endsWithWord(text[:a]) || startsWithWord(text[b:])) {
				// Hugging Face discards the match and, as its
				// leftmost-longest search does, goes on after it: a
				// shorter token inside it is not tried.
				i = b - 1
				break
			}
			if t.LStrip {
				for a > start {
					r, w := utf8.DecodeLastRuneInString(text[start:a])
					if !unicode.IsSpace(r) {
						break
					}
					a -= w
				}
			}
			if t.RStrip {
				for b < len(text) {
					r, w := utf8.DecodeRuneInString(text[b:])
					if !unicode.IsSpace(r) {
						break
					}
					b += w
				}
			}
			if a > start {
				fn(text[start:a], -1)
			}
			fn(t.Content, t.ID)
			start = b
			i = b - 1
			break
		}
	}
	if start < len(text) {
		fn(text[start:], -1)
	}
}

// startsWithWord and endsWithWord tell whether s starts or ends with a
// word character, as Hugging Face's single_word check (added_vocabulary.rs:
// the regexes ^\w and \w$, Unicode-aware in Rust).
func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

// isWordChar is Rust regex's Unicode \w (UTS #18's word characters):
// Alphabetic, marks, decimal digits, connector punctuation (as "_") and
// the joiners U+200C and U+200D.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) || r == 0x200C || r == 0x200D
}
