// Package bpe is the byte-pair-encoding model of Hugging Face tokenizers'
// "BPE": a vocabulary, a ranked list of merges, and the rule that the
// lowest-ranked adjacent pair in a word merges first (leftmost on ties),
// until no pair has a merge.
//
// It serves byte-level BPE (GPT-2, Llama 3, Qwen2/3: a word's bytes map to
// the GPT-2 byte alphabet before merging) and character BPE with byte
// fallback (Llama 2, Mistral, TinyLlama in tokenizer.json form: characters
// missing from the vocabulary become <0xXX> byte tokens).
package bpe

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Options select the model's variant; the zero value is plain character BPE
// with no unknown token.
type Options struct {
	ByteLevel    bool // words arrive as raw bytes; symbols are GPT-2 byte characters
	ByteFallback bool // characters missing from the vocabulary become <0xXX> tokens
	IgnoreMerges bool // a word found whole in the vocabulary is one token (Llama 3)
	Unk          int  // id of the unknown token, or -1
	FuseUnk      bool // consecutive unknown characters give one unknown token
}

// Model is a BPE model. It is safe for concurrent use.
type Model struct {
	opt    Options
	vocab  map[string]int
	merges pairTable // left<<32|right -> rank<<32|merged id
	// byteIDs[b] is the id of byte b's first symbol: its GPT-2 byte character
	// (ByteLevel) or its <0xXX> token (ByteFallback); -1 when missing.
	byteIDs [256]int

	mu    sync.Mutex
	cache map[string][]int
}

// cacheMax bounds the word cache; past it the cache starts afresh.
// Longer words than cacheWordMax bytes (rare but for texts with no
// pre-tokenizer) are not cached, so the cache stays small.
const (
	cacheMax     = 1 << 17
	cacheWordMax = 256
)

// New builds a model from vocab (token -> id) and merges (ranked, first is
// applied first). A merge naming a token missing from the vocabulary, or
// whose concatenation is missing, is an error, as in Hugging Face tokenizers.
func New(vocab map[string]int, merges [][2]string, opt Options) (*Model, error) {
	m := &Model{
		opt:    opt,
		vocab:  vocab,
		merges: newPairTable(len(merges)),
		cache:  make(map[string][]int),
	}
	for rank, mg := range merges {
		a, ok := vocab[mg[0]]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q): %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[0])
		}
		b, ok := vocab[mg[1]]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q): %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[1])
		}
		c, ok := vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q): %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[0]+mg[1])
		}
		m.merges.put(pairKey(a, b), uint64(rank)<<32|uint64(uint32(c)))
	}
	for b := range 256 {
		m.byteIDs[b] = -1
		var tok string
		switch {
		case opt.ByteLevel:
			tok = string(ByteToRune[b])
		case opt.ByteFallback:
			tok = fmt.Sprintf("<0x%02X>", b)
		default:
			continue
		}
		if id, ok := vocab[tok]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// merge returns the rank and result of merging a and b, ok false when the
// pair has no merge.
func (m *Model) merge(a, b int) (rank, id int, ok bool) {
	v, ok := m.merges.get(pairKey(a, b))
	return int(v >> 32), int(int32(uint32(v))), ok
}

// Encode appends the ids of word to dst and returns it. With ByteLevel the
// word is raw bytes (any bytes); otherwise it is text, and an invalid UTF-8
// byte is a character of its own (found only through byte fallback).
func (m *Model) Encode(dst []int, word string) []int {
	if word == "" {
		return dst
	}
	if len(word) > cacheWordMax {
		return m.encode(dst, word)
	}
	m.mu.Lock()
	ids, ok := m.cache[word]
	m.mu.Unlock()
	if ok {
		return append(dst, ids...)
	}
	start := len(dst)
	dst = m.encode(dst, word)
	m.mu.Lock()
	if len(m.cache) >= cacheMax {
		clear(m.cache)
	}
	m.cache[strings.Clone(word)] = append([]int(nil), dst[start:]...)
	m.mu.Unlock()
	return dst
}

// encode is Encode without the cache.
func (m *Model) encode(dst []int, word string) []int {
	if m.opt.IgnoreMerges {
		key := word
		if m.opt.ByteLevel {
			key = ToByteLevel(word)
		}
		if id, ok := m.vocab[key]; ok {
			return append(dst, id)
		}
	}
	syms := m.symbols(make([]int, 0, len(word)), word)
	if len(syms) <= 64 {
		syms = m.mergeScan(syms)
	} else {
		syms = m.mergeHeap(syms)
	}
	return append(dst, syms...)
}

// symbols appends the word's initial symbols: one per byte (ByteLevel) or per
// character, with byte fallback and unknown tokens.
func (m *Model) symbols(syms []int, word string) []int {
	if m.opt.ByteLevel {
		for i := 0; i < len(word); i++ {
			syms = m.unknown(syms, m.byteIDs[word[i]])
		}
		return syms
	}
	for i := 0; i < len(word); {
		_, w := utf8.DecodeRuneInString(word[i:])
		if id, ok := m.vocab[word[i:i+w]]; ok {
			syms = append(syms, id)
		} else if m.opt.ByteFallback && m.allBytes(word[i:i+w]) {
			for k := i; k < i+w; k++ {
				syms = append(syms, m.byteIDs[word[k]])
			}
		} else {
			syms = m.unknown(syms, -1)
		}
		i += w
	}
	return syms
}

func (m *Model) allBytes(s string) bool {
	for k := 0; k < len(s); k++ {
		if m.byteIDs[s[k]] < 0 {
			return false
		}
	}
	return true
}

// unknown appends id, or for id < 0 the unknown token (fused with a previous
// one under FuseUnk); with no unknown token the character is dropped, as in
// Hugging Face tokenizers.
func (m *Model) unknown(syms []int, id int) []int {
	if id >= 0 {
		return append(syms, id)
	}
	if m.opt.Unk < 0 {
		return syms
	}
	if m.opt.FuseUnk && len(syms) > 0 && syms[len(syms)-1] == m.opt.Unk {
		return syms
	}
	return append(syms, m.opt.Unk)
}

// mergeScan is the reference merge loop: find the lowest-ranked pair
// (leftmost on ties), merge it, repeat. The pairs' ranks are kept in a slice
// so that each merge looks up only its two new pairs; finding the minimum is
// a scan, O(n²) in all, fastest for words of up to a few hundred symbols.
func (m *Model) mergeScan(syms []int) []int {
	// vals[k] is the table value of pair (k, k+1): rank<<32 | merged id, so
	// the smallest value is the lowest rank; none when the pair has no merge.
	const none = ^uint64(0)
	var buf [64]uint64
	vals := buf[:0]
	if len(syms) > len(buf) {
		vals = make([]uint64, 0, len(syms))
	}
	valOf := func(k int) uint64 {
		if v, ok := m.merges.get(pairKey(syms[k], syms[k+1])); ok {
			return v
		}
		return none
	}
	for k := 0; k+1 < len(syms); k++ {
		vals = append(vals, valOf(k))
	}
	for len(syms) > 1 {
		best, bestVal := -1, none
		for k, v := range vals {
			if v < bestVal {
				best, bestVal = k, v
			}
		}
		if best < 0 {
			break
		}
		syms[best] = int(int32(uint32(bestVal)))
		syms = append(syms[:best+1], syms[best+2:]...)
		vals = append(vals[:best], vals[best+1:]...)
		if best < len(vals) {
			vals[best] = valOf(best)
		}
		if best > 0 {
			vals[best-1] = valOf(best - 1)
		}
	}
	return syms
}

// mergeHeap is mergeScan with a linked list and a priority queue of
// candidate pairs ordered by (rank, position): O(n log n) for long words.
func (m *Model) mergeHeap(syms []int) []int {
	n := len(syms)
	next := make([]int, n) // index of the next live symbol, n at the end
	prev := make([]int, n) // index of the previous live symbol, -1 at the start
	for k := range n {
		next[k], prev[k] = k+1, k-1
	}
	h := make(pairHeap, 0, n)
	push := func(k int) {
		if k < 0 || next[k] >= n {
			return
		}
		if rank, id, ok := m.merge(syms[k], syms[next[k]]); ok {
			h.push(cand{rank: rank, pos: k, right: next[k], left: syms[k], rid: syms[next[k]], id: id})
		}
	}
	for k := 0; k+1 < n; k++ {
		push(k)
	}
	dead := make([]bool, n)
	for len(h) > 0 {
		c := h.pop()
		// Skip candidates made stale by earlier merges.
		if dead[c.pos] || next[c.pos] != c.right || syms[c.pos] != c.left || syms[c.right] != c.rid {
			continue
		}
		syms[c.pos] = c.id
		dead[c.right] = true
		next[c.pos] = next[c.right]
		if next[c.pos] < n {
			prev[next[c.pos]] = c.pos
		}
		push(prev[c.pos])
		push(c.pos)
	}
	out := syms[:0]
	for k := 0; k < n; k = next[k] {
		out = append(out, syms[k])
	}
	return out
}

// cand is a candidate merge of the live symbols at pos and right.
type cand struct {
	rank, pos, right int
	left, rid        int // the pair's ids when the candidate was pushed
	id               int // what they merge into
}

func (a cand) less(b cand) bool { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos) }

// pairHeap is a binary min-heap of candidates.
type pairHeap []cand

func (h *pairHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].less(s[min]) {
			min = l
		}
		if r < len(s) && s[r].less(s[min]) {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*h = s
	return top
}

// ResetCache empties the word cache (for benchmarks of cold encoding).
func (m *Model) ResetCache() {
	m.mu.Lock()
	clear(m.cache)
	m.mu.Unlock()
}
