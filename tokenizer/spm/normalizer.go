package spm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Normalizer is SentencePiece's text normalizer (normalizer.cc): a
// precompiled character map (the rules of nmt_nfkc and friends, compiled
// into a Darts-clone double-array trie over UTF-8 bytes and a pool of
// replacement strings) applied longest match first, then extra whitespace
// removed, a dummy prefix added and spaces escaped as "▁".
type Normalizer struct {
	units    []uint32 // the double-array trie; nil: no rules (identity)
	pool     []byte   // NUL-terminated replacement strings
	addDummy bool
	rmExtra  bool
	escape   bool
	user     map[string]bool // user-defined pieces, left as they are
	userMax  int
}

// KeepPieces makes the normalizer leave these (user-defined) pieces as they
// are, as SentencePiece's prefix matcher does.
func (n *Normalizer) KeepPieces(pieces []string) {
	for _, p := range pieces {
		if p == "" {
			continue
		}
		if n.user == nil {
			n.user = map[string]bool{}
		}
		n.user[p] = true
		n.userMax = max(n.userMax, len(p))
	}
}

// NewNormalizer parses a precompiled_charsmap: a little-endian uint32 trie
// size, the trie's units, then the replacement strings. charsmap may be
// empty (no rules).
func NewNormalizer(charsmap []byte, addDummyPrefix, removeExtraSpaces, escapeSpaces bool) (*Normalizer, error) {
	n := &Normalizer{addDummy: addDummyPrefix, rmExtra: removeExtraSpaces, escape: escapeSpaces}
	if len(charsmap) == 0 {
		return n, nil
	}
	if len(charsmap) < 4 {
		return nil, errors.New("precompiled charsmap: truncated")
	}
	size := binary.LittleEndian.Uint32(charsmap)
	if uint64(size) > uint64(len(charsmap)-4) || size%4 != 0 || size == 0 {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d does not fit %d bytes", size, len(charsmap))
	}
	n.units = make([]uint32, size/4)
	for k := range n.units {
		n.units[k] = binary.LittleEndian.Uint32(charsmap[4+4*k:])
	}
	n.pool = charsmap[4+size:]
	return n, nil
}

// Darts-clone unit fields.
func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// longest returns the length of the longest rule matching a prefix of s
// and its replacement, or 0.
func (n *Normalizer) longest(s string) (int, string) {
	if n.units == nil {
		return 0, ""
	}
	best, value := 0, uint32(0)
	pos := unitOffset(n.units[0])
	for i := 0; i < len(s); i++ {
		pos ^= uint32(s[i])
		if int(pos) >= len(n.units) {
			break
		}
		u := n.units[pos]
		if unitLabel(u) != uint32(s[i]) {
			break
		}
		pos ^= unitOffset(u)
		if int(pos) >= len(n.units) {
			break
		}
		if unitHasLeaf(u) {
			best, value = i+1, unitValue(n.units[pos])
		}
	}
	if best == 0 || int(value) >= len(n.pool) {
		return 0, ""
	}
	rep := n.pool[value:]
	if end := strings.IndexByte(string(rep), 0); end >= 0 {
		rep = rep[:end]
	}
	return best, string(rep)
}

// prefix normalizes the start of s: the replacement of the longest rule, or
// the first character as it is (U+FFFD for an invalid byte), and the number
// of bytes of s consumed.
func (n *Normalizer) prefix(s string) (string, int) {
	for l := min(n.userMax, len(s)); l > 0; l-- {
		if n.user[s[:l]] {
			return s[:l], l
		}
	}
	if l, rep := n.longest(s); l > 0 {
		return rep, l
	}
	r, w := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && w == 1 {
		return "\uFFFD", 1
	}
	return s[:w], w
}

// Normalize returns s normalized, spaces escaped as "▁" when asked.
func (n *Normalizer) Normalize(s string) string {
	if n.rmExtra { // leading spaces
		for s != "" {
			rep, w := n.prefix(s)
			if rep != " " {
				break
			}
			s = s[w:]
		}
	}
	if s == "" {
		return ""
	}
	space := " "
	if n.escape {
		space = "▁"
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	if n.addDummy {
		sb.WriteString(space)
	}
	prevSpace := n.rmExtra
	for s != "" {
		rep, w := n.prefix(s)
		s = s[w:]
		if prevSpace {
			rep = strings.TrimLeft(rep, " ")
		}
		if rep != "" {
			if n.escape {
				sb.WriteString(strings.ReplaceAll(rep, " ", "▁"))
			} else {
				sb.WriteString(rep)
			}
			prevSpace = strings.HasSuffix(rep, " ")
		}
		if !n.rmExtra {
			prevSpace = false
		}
	}
	out := sb.String()
	if n.rmExtra {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	return out
}
