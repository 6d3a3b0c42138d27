package spm

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/internal/wordcache"
)

// unkPenalty is SentencePiece's kUnkPenalty: an unknown character scores the
// lowest piece score minus 10.
const unkPenalty = 10

// Unigram is SentencePiece's unigram-model encoder (T5, ALBERT, XLNet and
// Hugging Face's "Unigram"): the segmentation of a text whose pieces' scores
// (log probabilities) add up to the most, found by Viterbi over character
// boundaries. Characters no piece covers become the unknown piece; runs of
// them are fused into one, then byte fallback, if on, spells them as <0xXX>
// pieces. It is safe for concurrent use.
type Unigram struct {
	vocab    map[string]int
	scores   []float32
	maxLen   int          // longest piece in bytes
	user     map[int]bool // user-defined pieces: always chosen where they match
	userBest float64      // their score per character, SentencePiece's max_score_
	unk      int
	unkScore float64
	byteIDs  [256]int
	bytes    bool

	cache wordcache.Cache
}

// NewUnigram builds the encoder. types may be nil (all pieces usable); with
// types, unused pieces are left out, as SentencePiece does.
func NewUnigram(pieces []string, scores []float32, types []int32, unk int, byteFallback bool) (*Unigram, error) {
	if len(scores) != len(pieces) || (types != nil && len(types) != len(pieces)) {
		return nil, fmt.Errorf("%d pieces but %d scores and %d types", len(pieces), len(scores), len(types))
	}
	if len(pieces) == 0 {
		return nil, errors.New("no pieces")
	}
	if unk < 0 || unk >= len(pieces) {
		return nil, fmt.Errorf("unknown-piece id %d out of range [0, %d)", unk, len(pieces))
	}
	u := &Unigram{vocab: make(map[string]int, len(pieces)), scores: scores, unk: unk, bytes: byteFallback}
	for b := range u.byteIDs {
		u.byteIDs[b] = -1
	}
	// SentencePiece takes the lowest and highest scores over normal pieces
	// (the highest starting from FLT_MIN, so it is ~0 when all are
	// negative); Hugging Face, which has no types, over all.
	min := math.Inf(1)
	u.userBest = float64(math.SmallestNonzeroFloat32)
	if types == nil {
		u.userBest = math.Inf(-1)
	}
	for id := range pieces {
		if types == nil || types[id] == Normal {
			min = math64Min(min, float64(scores[id]))
			u.userBest = math.Max(u.userBest, float64(scores[id]))
		}
	}
	if math.IsInf(min, 1) {
		min = 0
	}
	for id, p := range pieces {
		if types != nil && types[id] == Unused {
			continue
		}
		if types != nil && types[id] == UserDefined {
			if u.user == nil {
				u.user = map[int]bool{}
			}
			u.user[id] = true
		}
		if types != nil && types[id] == Byte {
			if b, ok := ByteToken(p); ok {
				u.byteIDs[b] = id
			}
			continue
		}
		if p == "" {
			continue
		}
		if _, dup := u.vocab[p]; !dup {
			u.vocab[p] = id
			u.maxLen = max(u.maxLen, len(p))
		}
		if types == nil {
			if b, ok := ByteToken(p); ok {
				u.byteIDs[b] = id
			}
		}
	}
	u.unkScore = min - unkPenalty
	if byteFallback {
		for b, id := range u.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("byte fallback: no piece <0x%02X>", b)
			}
		}
	}
	return u, nil
}

func math64Min(a, b float64) float64 {
	if b < a {
		return b
	}
	return a
}

// Encode appends the ids of the normalized text s.
func (u *Unigram) Encode(dst []int, s string) []int {
	if s == "" {
		return dst
	}
	return u.cache.Encode(dst, s, u.encode)
}

// node is the best path ending at a byte position.
type node struct {
	score float64
	start int // start of its last piece, -1 while unreached
	id    int
}

func (u *Unigram) encode(dst []int, s string) []int {
	best := make([]node, len(s)+1)
	for i := range best {
		best[i].start = -1
	}
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		here := best[i].score
		single := false
		// Every piece that starts here, shortest first (a trie's common
		// prefix search), ending on a character boundary.
		for end := i + w; end <= len(s) && end-i <= u.maxLen; {
			if id, ok := u.vocab[s[i:end]]; ok {
				score := float64(u.scores[id])
				if u.user[id] {
					// "User defined symbol receives extra bonus to always be
					// selected" (unigram_model.cc).
					score = float64(utf8.RuneCountInString(s[i:end]))*u.userBest - 0.1
				}
				if sc := here + score; best[end].start < 0 || sc > best[end].score {
					best[end] = node{score: sc, start: i, id: id}
				}
				if end == i+w {
					single = true
				}
			}
			if end == len(s) {
				break
			}
			_, w2 := utf8.DecodeRuneInString(s[end:])
			end += w2
		}
		if !single {
			if sc := here + u.unkScore; best[i+w].start < 0 || sc > best[i+w].score {
				best[i+w] = node{score: sc, start: i, id: u.unk}
			}
		}
		i += w
	}
	// Walk back, fusing runs of unknown characters.
	type span struct{ a, b, id int }
	var path []span
	for end := len(s); end > 0; {
		n := best[end]
		if n.id == u.unk && len(path) > 0 && path[len(path)-1].id == u.unk {
			path[len(path)-1].a = n.start
		} else {
			path = append(path, span{n.start, end, n.id})
		}
		end = n.start
	}
	for k := len(path) - 1; k >= 0; k-- {
		p := path[k]
		if p.id != u.unk {
			dst = append(dst, p.id)
			continue
		}
		if id, ok := u.vocab[s[p.a:p.b]]; ok && id != u.unk {
			dst = append(dst, id)
			continue
		}
		if u.bytes {
			for i := p.a; i < p.b; i++ {
				dst = append(dst, u.byteIDs[s[i]])
			}
			continue
		}
		dst = append(dst, u.unk)
	}
	return dst
}

// CrossesSpace reports whether some piece holds "▁" after another
// character (see Model.CrossesSpace): when none does, text may be encoded
// in "▁"-started chunks with the same result.
func (u *Unigram) CrossesSpace() bool {
	for p := range u.vocab {
		if strings.Contains(strings.TrimLeft(p, "▁"), "▁") {
			return true
		}
	}
	return false
}

// ResetCache empties the chunk cache (for benchmarks of cold encoding).
func (u *Unigram) ResetCache() {
	u.cache.Reset()
}
