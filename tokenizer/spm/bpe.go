package spm

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/internal/wordcache"
)

// Model is SentencePiece's BPE encoder over normalized text ("▁" for
// spaces). It is safe for concurrent use.
type Model struct {
	vocab   map[string]int // pieces that merges may produce: normal and user-defined
	scores  []float32      // id -> score
	byteIDs [256]int       // <0xXX> piece ids, -1 when missing
	unk     int
	bytes   bool // byte fallback
	// user holds the user-defined pieces, which SentencePiece cuts out as
	// whole symbols before merging and never merges further.
	user    map[string]bool
	userMax int // longest user-defined piece in bytes

	cache wordcache.Cache
}

// NewModel builds the encoder from pieces, their scores and types (the Proto
// fields, or GGUF's tokens, scores and token types). unk is the unknown
// piece's id; byteFallback turns characters missing from the pieces into
// <0xXX> byte pieces.
func NewModel(pieces []string, scores []float32, types []int32, unk int, byteFallback bool) (*Model, error) {
	if len(scores) != len(pieces) || len(types) != len(pieces) {
		return nil, fmt.Errorf("%d pieces but %d scores and %d types", len(pieces), len(scores), len(types))
	}
	if unk < 0 || unk >= len(pieces) {
		return nil, fmt.Errorf("unknown-piece id %d out of range [0, %d)", unk, len(pieces))
	}
	m := &Model{vocab: make(map[string]int, len(pieces)), scores: scores, unk: unk, bytes: byteFallback}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
	}
	for id, p := range pieces {
		switch types[id] {
		case Normal, UserDefined:
			if _, dup := m.vocab[p]; !dup {
				m.vocab[p] = id
			}
			if types[id] == UserDefined && p != "" {
				if m.user == nil {
					m.user = map[string]bool{}
				}
				m.user[p] = true
				m.userMax = max(m.userMax, len(p))
			}
		case Byte:
			if b, ok := ByteToken(p); ok {
				m.byteIDs[b] = id
			}
		}
	}
	if byteFallback {
		for b, id := range m.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("byte fallback: no piece <0x%02X>", b)
			}
		}
	}
	return m, nil
}

// CrossesSpace reports whether some mergeable piece holds "▁" after another
// character. When none does, no merge spans the start of a "▁" run that
// follows other text, and text may be cut there and encoded in chunks.
func (m *Model) CrossesSpace() bool {
	for p := range m.vocab {
		if strings.Contains(strings.TrimLeft(p, "▁"), "▁") {
			return true
		}
	}
	return false
}

// Encode appends the ids of the normalized text s.
func (m *Model) Encode(dst []int, s string) []int {
	if s == "" {
		return dst
	}
	return m.cache.Encode(dst, s, m.encode)
}

// symbol is a live span [start, end) of the text in a doubly linked list.
type symbol struct {
	start, end int
	prev, next int // -1 / len at the ends
}

// bigram is a candidate merge of symbols left and right, valid while their
// spans still add up to size bytes.
type bigram struct {
	score       float32
	left, right int
	size        int
}

func (a bigram) before(b bigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

func (m *Model) encode(dst []int, s string) []int {
	syms := make([]symbol, 0, len(s))
	var frozen []bool // per symbol: a user-defined piece, never merged
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		user := false
		for l := min(m.userMax, len(s)-i); l > 0; l-- {
			if m.user[s[i:i+l]] {
				w, user = l, true
				break
			}
		}
		if user && frozen == nil {
			frozen = make([]bool, len(syms), len(s))
		}
		if frozen != nil {
			frozen = append(frozen, user)
		}
		syms = append(syms, symbol{start: i, end: i + w, prev: len(syms) - 1, next: len(syms) + 1})
		i += w
	}
	n := len(syms)
	var h []bigram
	try := func(l, r int) {
		if l < 0 || r >= n || (frozen != nil && (frozen[l] || frozen[r])) {
			return
		}
		if id, ok := m.vocab[s[syms[l].start:syms[r].end]]; ok {
			heapPush(&h, bigram{score: m.scores[id], left: l, right: r, size: syms[r].end - syms[l].start})
		}
	}
	for k := 1; k < n; k++ {
		try(k-1, k)
	}
	for len(h) > 0 {
		bg := heapPop(&h)
		l, r := &syms[bg.left], &syms[bg.right]
		if l.end == l.start || r.end == r.start || l.next != bg.right || r.end-l.start != bg.size {
			continue // stale
		}
		l.end = r.end
		r.start = r.end // dead
		l.next = r.next
		if r.next < n {
			syms[r.next].prev = bg.left
		}
		try(l.prev, bg.left)
		try(bg.left, l.next)
	}
	for k := 0; k < n; k = syms[k].next {
		piece := s[syms[k].start:syms[k].end]
		if id, ok := m.vocab[piece]; ok {
			dst = append(dst, id)
			continue
		}
		if m.bytes {
			for i := 0; i < len(piece); i++ {
				dst = append(dst, m.byteIDs[piece[i]])
			}
			continue
		}
		dst = append(dst, m.unk)
	}
	return dst
}

func heapPush(h *[]bigram, b bigram) {
	*h = append(*h, b)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func heapPop(h *[]bigram) bigram {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, best := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].before(s[best]) {
			best = l
		}
		if r < len(s) && s[r].before(s[best]) {
			best = r
		}
		if best == i {
			break
		}
		s[i], s[best] = s[best], s[i]
		i = best
	}
	*h = s
	return top
}

// ResetCache empties the chunk cache (for benchmarks of cold encoding).
func (m *Model) ResetCache() {
	m.cache.Reset()
}

// ByteToken parses a byte piece "<0xXX>" (two upper- or lower-case hex
// digits) and returns its byte.
func ByteToken[S string | []byte](p S) (byte, bool) {
	if len(p) != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexDigit(p[3])
	lo, ok2 := hexDigit(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
