// Package pretok splits text into the pieces ("pre-tokens", roughly words)
// that a BPE model encodes one at a time.
//
// The regexes that GPT-2, Llama 3 and Qwen2/3 publish need look-ahead, which
// Go's RE2 lacks. Split implements each of them by hand, alternative by
// alternative in the regex's own order (leftmost alternative wins, as in
// Oniguruma, PCRE and .NET), and tests prove it equal to the regex run by
// github.com/dlclark/regexp2, which also serves as the general fallback
// (NewRegex) for any other pattern.
package pretok

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// The published pre-tokenizer regexes, byte for byte as tokenizer.json files
// spell them.
const (
	// GPT2Pattern is GPT-2's regex (encoder.py), also in RoBERTa, GPT-J, etc.
	GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// Llama3Pattern is Llama 3's regex (tiktoken cl100k-style, digits in threes).
	Llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen2Pattern is Qwen2/2.5/3's regex: Llama 3's with single digits.
	Qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Splitter cuts s into consecutive pieces and calls emit with each, in order.
// For the patterns here every byte of s lands in exactly one piece.
type Splitter interface {
	Split(s string, emit func(piece string))
}

// Kind selects one of the hand-written splitters.
type Kind int

// The hand-written splitters.
const (
	GPT2 Kind = iota
	Llama3
	Qwen2
)

// ForPattern returns the hand-written splitter for one of the published
// patterns, or nil when pattern is none of them.
func ForPattern(pattern string) Splitter {
	switch pattern {
	case GPT2Pattern:
		return Hand{Kind: GPT2}
	case Llama3Pattern:
		return Hand{Kind: Llama3}
	case Qwen2Pattern:
		return Hand{Kind: Qwen2}
	}
	return nil
}

// Hand is the hand-written splitter for one of the published patterns.
type Hand struct{ Kind Kind }

// character classes of the regexes.
const (
	clsOther  = iota // [^\s\p{L}\p{N}]; invalid UTF-8 bytes land here, as U+FFFD would
	clsLetter        // \p{L}
	clsNumber        // \p{N}
	clsSpace         // \s (Unicode White_Space)
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			t[c] = clsLetter
		case unicode.IsNumber(r):
			t[c] = clsNumber
		case unicode.IsSpace(r):
			t[c] = clsSpace
		default:
			t[c] = clsOther
		}
	}
	return t
}()

// next decodes the rune at s[i:] and returns its class, the rune and width.
// An invalid byte is one rune of class other, width 1.
func next(s string, i int) (cls uint8, r rune, w int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], rune(c), 1
	}
	r, w = utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && w == 1:
		return clsOther, r, 1
	case unicode.IsLetter(r):
		return clsLetter, r, w
	case unicode.IsNumber(r):
		return clsNumber, r, w
	case unicode.IsSpace(r):
		return clsSpace, r, w
	}
	return clsOther, r, w
}

// run returns the end of the run of class cls starting at i, after at most
// max runes (max <= 0: unlimited).
func run(s string, i int, cls uint8, max int) int {
	n := 0
	for i < len(s) && (max <= 0 || n < max) {
		c, _, w := next(s, i)
		if c != cls {
			break
		}
		i += w
		n++
	}
	return i
}

// contraction returns the length of 's 't 're 've 'm 'll 'd at s[i:]
// (s[i] == '\”), or 0. fold makes it ASCII case-insensitive.
func contraction(s string, i int, fold bool) int {
	lower := func(c byte) byte {
		if fold && 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	if i+1 >= len(s) {
		return 0
	}
	switch lower(s[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 >= len(s) {
		return 0
	}
	a, b := lower(s[i+1]), lower(s[i+2])
	if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
		return 3
	}
	return 0
}

// Split implements Splitter.
func (h Hand) Split(s string, emit func(string)) {
	for i := 0; i < len(s); {
		n := h.match(s, i)
		emit(s[i : i+n])
		i += n
	}
}

// match returns the length (> 0) of the regex match starting at i.
func (h Hand) match(s string, i int) int {
	llama := h.Kind != GPT2
	if s[i] == '\'' {
		if n := contraction(s, i, llama); n > 0 {
			return n
		}
	}
	cls, r, w := next(s, i)
	// Letters, with one optional prefix character.
	if llama {
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if cls == clsLetter {
			return run(s, i, clsLetter, 0) - i
		}
		if cls != clsNumber && r != '\r' && r != '\n' && i+w < len(s) {
			if c2, _, _ := next(s, i+w); c2 == clsLetter {
				return run(s, i+w, clsLetter, 0) - i
			}
		}
	} else {
		// ' ?\p{L}+'
		if cls == clsLetter {
			return run(s, i, clsLetter, 0) - i
		}
		if s[i] == ' ' && i+1 < len(s) {
			if c2, _, _ := next(s, i+1); c2 == clsLetter {
				return run(s, i+1, clsLetter, 0) - i
			}
		}
	}
	// Numbers.
	switch h.Kind {
	case GPT2: // ' ?\p{N}+'
		if cls == clsNumber {
			return run(s, i, clsNumber, 0) - i
		}
		if s[i] == ' ' && i+1 < len(s) {
			if c2, _, _ := next(s, i+1); c2 == clsNumber {
				return run(s, i+1, clsNumber, 0) - i
			}
		}
	case Llama3: // \p{N}{1,3}
		if cls == clsNumber {
			return run(s, i, clsNumber, 3) - i
		}
	case Qwen2: // \p{N}
		if cls == clsNumber {
			return w
		}
	}
	// ' ?[^\s\p{L}\p{N}]+' and, for Llama 3 and Qwen2, '[\r\n]*' after it.
	end := -1
	if cls == clsOther {
		end = run(s, i, clsOther, 0)
	} else if s[i] == ' ' && i+1 < len(s) {
		if c2, _, _ := next(s, i+1); c2 == clsOther {
			end = run(s, i+1, clsOther, 0)
		}
	}
	if end >= 0 {
		if llama {
			for end < len(s) && (s[end] == '\r' || s[end] == '\n') {
				end++
			}
		}
		return end - i
	}
	// Only whitespace is left: cls == clsSpace.
	j := i    // end of the whitespace run
	last := i // start of its last rune
	nl := -1  // end of its last \r or \n
	for j < len(s) {
		c, r, w := next(s, j)
		if c != clsSpace {
			break
		}
		if r == '\r' || r == '\n' {
			nl = j + w
		}
		last = j
		j += w
	}
	if llama && nl >= 0 { // \s*[\r\n]+
		return nl - i
	}
	if j == len(s) { // \s+(?!\S) at the end of the text
		return j - i
	}
	if last > i { // \s+(?!\S): leave the last space to the next piece
		return last - i
	}
	return j - i // \s+
}

// Behavior is what Split does with the text a regex matches (Hugging Face's
// SplitDelimiterBehavior).
type Behavior int

// The behaviors, for matches m of "a-b--c" split on "-".
const (
	Isolated           Behavior = iota // matches are pieces: a - b - - c
	Removed                            // matches are dropped: a b c
	MergedWithPrevious                 // a match ends the piece before it: a- b- - c
	MergedWithNext                     // a match starts the piece after it: a -b - -c
	Contiguous                         // adjacent matches are one piece: a - b -- c
	MatchesOnly                        // only matches are pieces (Removed with invert): - - -
)

// Regex is the general splitter: a regexp2 pattern and a behavior.
type Regex struct {
	re       *regexp2.Regexp
	behavior Behavior
}

// NewRegex compiles pattern (.NET/Oniguruma syntax, look-around included).
func NewRegex(pattern string, behavior Behavior) (*Regex, error) {
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("pre-tokenizer regex %q: %w", pattern, err)
	}
	// A hostile pattern must not hang the tokenizer.
	re.MatchTimeout = 10 * time.Second
	return &Regex{re: re, behavior: behavior}, nil
}

// Split implements Splitter. regexp2 counts in runes; an invalid UTF-8 byte is
// one rune (U+FFFD) there and here.
func (x *Regex) Split(s string, emit func(string)) {
	if s == "" {
		return
	}
	// offs[k] is the byte offset of rune k.
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		offs = append(offs, i)
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	offs = append(offs, len(s))
	var ms [][2]int // byte spans of the non-empty matches
	m, err := x.re.FindStringMatch(s)
	for m != nil && err == nil {
		if a, b := offs[m.Index], offs[m.Index+m.Length]; b > a {
			if n := len(ms); x.behavior == Contiguous && n > 0 && ms[n-1][1] == a {
				ms[n-1][1] = b
			} else {
				ms = append(ms, [2]int{a, b})
			}
		}
		m, err = x.re.FindNextMatch(m)
	}
	prev := 0 // start of the text not emitted yet
	for _, m := range ms {
		a, b := m[0], m[1]
		switch x.behavior {
		case Isolated, Contiguous:
			if a > prev {
				emit(s[prev:a])
			}
			emit(s[a:b])
			prev = b
		case Removed:
			if a > prev {
				emit(s[prev:a])
			}
			prev = b
		case MatchesOnly:
			emit(s[a:b])
			prev = b
		case MergedWithPrevious:
			emit(s[prev:b])
			prev = b
		case MergedWithNext:
			if a > prev {
				emit(s[prev:a])
			}
			prev = a
		}
	}
	if prev < len(s) && x.behavior != MatchesOnly {
		emit(s[prev:])
	}
}
