package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The two big parts of a tokenizer.json, model.vocab (an object of token ->
// id) and model.merges (an array of "a b" strings or ["a", "b"] pairs), make
// up nearly all of an 11 MB file; encoding/json's reflection takes most of a
// second on them. These scanners read just those shapes, ten times faster;
// the rest of the file goes through encoding/json. Strings with escapes are
// handed to encoding/json one by one, so JSON's escape rules (surrogate
// pairs included) hold exactly.

// jscan is a cursor over JSON text.
type jscan struct {
	b   []byte
	off int
}

func (s *jscan) errorf(format string, args ...any) error {
	return fmt.Errorf("byte %d: "+format, append([]any{s.off}, args...)...)
}

func (s *jscan) space() {
	for s.off < len(s.b) {
		switch s.b[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

// expect skips whitespace and the byte c.
func (s *jscan) expect(c byte) error {
	s.space()
	if s.off >= len(s.b) || s.b[s.off] != c {
		return s.errorf("want %q", c)
	}
	s.off++
	return nil
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *jscan) peek() byte {
	s.space()
	if s.off >= len(s.b) {
		return 0
	}
	return s.b[s.off]
}

// str reads a string literal.
func (s *jscan) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.off
	escaped := false
	for s.off < len(s.b) {
		c := s.b[s.off]
		switch {
		case c == '\\':
			escaped = true
			s.off += 2
			continue
		case c == '"':
			s.off++
			if !escaped {
				return string(s.b[start : s.off-1]), nil
			}
			var v string
			if err := json.Unmarshal(s.b[start-1:s.off], &v); err != nil {
				return "", s.errorf("bad string: %v", err)
			}
			return v, nil
		case c < 0x20:
			return "", s.errorf("control character in string")
		}
		s.off++
	}
	return "", s.errorf("unterminated string")
}

// integer reads a JSON integer.
func (s *jscan) integer() (int, error) {
	s.space()
	start := s.off
	if s.off < len(s.b) && s.b[s.off] == '-' {
		s.off++
	}
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		s.off++
	}
	n, err := strconv.Atoi(string(s.b[start:s.off]))
	if err != nil {
		return 0, s.errorf("want an integer")
	}
	return n, nil
}

// parseVocab reads {"token": id, ...}.
func parseVocab(raw []byte) (map[string]int, error) {
	s := &jscan{b: raw}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	vocab := make(map[string]int, len(raw)/16)
	if s.peek() == '}' {
		return vocab, nil
	}
	for {
		tok, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		id, err := s.integer()
		if err != nil {
			return nil, err
		}
		if id < 0 {
			return nil, fmt.Errorf("%q has negative id %d", tok, id)
		}
		vocab[tok] = id
		switch s.peek() {
		case ',':
			s.off++
		case '}':
			return vocab, nil
		default:
			return nil, s.errorf("want ',' or '}'")
		}
	}
}

// parseMerges reads ["a b", ...] or [["a", "b"], ...].
func parseMerges(raw []byte) ([][2]string, error) {
	s := &jscan{b: raw}
	if err := s.expect('['); err != nil {
		return nil, err
	}
	var merges [][2]string
	if s.peek() == ']' {
		return merges, nil
	}
	for {
		var m [2]string
		if s.peek() == '[' {
			s.off++
			var err error
			if m[0], err = s.str(); err != nil {
				return nil, err
			}
			if err := s.expect(','); err != nil {
				return nil, err
			}
			if m[1], err = s.str(); err != nil {
				return nil, err
			}
			if err := s.expect(']'); err != nil {
				return nil, fmt.Errorf("merge %d is not a pair: %w", len(merges)+1, err)
			}
		} else {
			v, err := s.str()
			if err != nil {
				return nil, err
			}
			a, c, ok := strings.Cut(v, " ")
			if !ok || strings.Contains(c, " ") {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by one space", len(merges)+1, v)
			}
			m = [2]string{a, c}
		}
		merges = append(merges, m)
		switch s.peek() {
		case ',':
			s.off++
		case ']':
			return merges, nil
		default:
			return nil, s.errorf("want ',' or ']'")
		}
	}
}

// unigramVocab is a Unigram model's vocabulary: pieces and their scores in
// id order.
type unigramVocab struct {
	pieces []string
	scores []float32
}

// parseUnigramVocab reads [["piece", score], ...].
func parseUnigramVocab(raw []byte) (*unigramVocab, error) {
	s := &jscan{b: raw}
	if err := s.expect('['); err != nil {
		return nil, err
	}
	u := &unigramVocab{}
	if s.peek() == ']' {
		return u, nil
	}
	for {
		if err := s.expect('['); err != nil {
			return nil, err
		}
		p, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(','); err != nil {
			return nil, err
		}
		s.space()
		start := s.off
		for s.off < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.off]) >= 0 {
			s.off++
		}
		score, err := strconv.ParseFloat(string(s.b[start:s.off]), 64)
		if err != nil {
			return nil, s.errorf("want a score for %q", p)
		}
		if err := s.expect(']'); err != nil {
			return nil, err
		}
		u.pieces = append(u.pieces, p)
		u.scores = append(u.scores, float32(score))
		switch s.peek() {
		case ',':
			s.off++
		case ']':
			return u, nil
		default:
			return nil, s.errorf("want ',' or ']'")
		}
	}
}
