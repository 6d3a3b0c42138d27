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
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/internal/wordcache"
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

	cache wordcache.Cache
}

// MergeError is New's error for a merge that names a token missing from
// the vocabulary.
type MergeError struct {
	Index       int    // position of the merge in the list, from 0
	Left, Right string // the merge's two tokens
	Missing     string // Left, Right or their concatenation
}

// Error names the merge (counting from 1) and the missing token.
func (e *MergeError) Error() string {
	return fmt.Sprintf("merge %d (%q %q): %q is not in the vocabulary", e.Index+1, e.Left, e.Right, e.Missing)
}

// New builds a model from vocab (token -> id) and merges (ranked, first is
// applied first). A merge naming a token missing from the vocabulary, or
// whose concatenation is missing, is an error, as in Hugging Face tokenizers.
func New(vocab map[string]int, merges [][2]string, opt Options) (*Model, error) {
	m := &Model{
		opt:    opt,
		vocab:  vocab,
		merges: newPairTable(len(merges)),
	}
	for rank, mg := range merges {
		a, okA := vocab[mg[0]]
		b, okB := vocab[mg[1]]
		c, okC := vocab[mg[0]+mg[1]]
		if !okA || !okB || !okC {
			e := &MergeError{Index: rank, Left: mg[0], Right: mg[1], Missing: mg[0] + mg[1]}
			if !okA {
				e.Missing = mg[0]
			} else if !okB {
				e.Missing = mg[1]
			}
			return nil, e
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
	return m.cache.Encode(dst, word, m.encode)
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
		syms = m.mergeTree(syms)
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
// a scan, O(n²) in all, fastest for short words.
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

// mergeTree is mergeScan for long words: the pair values sit in the leaves
// of a segment tree whose inner nodes hold the position of their subtree's
// smallest value (leftmost on ties), and live symbols in a linked list, so
// each merge costs O(log n) instead of O(n).
func (m *Model) mergeTree(syms []int) []int {
	const none = ^uint64(0)
	n := len(syms)
	size := 1
	for size < n {
		size *= 2
	}
	vals := make([]uint64, size)  // vals[k]: value of the pair starting at live symbol k
	tree := make([]int32, 2*size) // tree[size+k] = k; inner nodes: argmin of children
	next := make([]int32, n)      // next live symbol, n at the end
	prev := make([]int32, n)      // previous live symbol, -1 at the start
	for k := range n {
		next[k], prev[k] = int32(k+1), int32(k-1)
	}
	valOf := func(k int) uint64 {
		if k < 0 || int(next[k]) >= n {
			return none
		}
		if v, ok := m.merges.get(pairKey(syms[k], syms[next[k]])); ok {
			return v
		}
		return none
	}
	better := func(a, b int32) int32 { // leftmost smallest
		if vals[b] < vals[a] {
			return b
		}
		return a
	}
	for k := range size {
		vals[k] = none
		if k < n {
			vals[k] = valOf(k)
		}
		tree[size+k] = int32(k)
	}
	for i := size - 1; i >= 1; i-- {
		tree[i] = better(tree[2*i], tree[2*i+1])
	}
	set := func(k int, v uint64) {
		vals[k] = v
		for i := (size + k) / 2; i >= 1; i /= 2 {
			tree[i] = better(tree[2*i], tree[2*i+1])
		}
	}
	for {
		best := int(tree[1])
		v := vals[best]
		if v == none {
			break
		}
		r := int(next[best])
		syms[best] = int(int32(uint32(v)))
		next[best] = next[r]
		if int(next[r]) < n {
			prev[next[r]] = int32(best)
		}
		set(r, none)
		set(best, valOf(best))
		if p := int(prev[best]); p >= 0 {
			set(p, valOf(p))
		}
	}
	out := syms[:0]
	for k := 0; k < n; k = int(next[k]) {
		out = append(out, syms[k])
	}
	return out
}

// ResetCache empties the word cache (for benchmarks of cold encoding).
func (m *Model) ResetCache() {
	m.cache.Reset()
}
