package generate

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/loftml/loft/nn"
)

// fakeLM is a deterministic model.CausalLM for tests. Its logits at a
// position give the table successor next[last token] a lead of 5 over
// noise in [0, 2) that hashes every token and position of the row read
// back from its KV cache, so greedy text follows the table while sampled
// text depends on the whole cached history: a row mixed up with another,
// or a position lost in a copy, changes sampled text. Forward also checks
// that every cached position holds its own index.
type fakeLM struct {
	next     []int // (V) greedy successor of each id
	ctx      int   // context length
	forwards int   // Forward calls
	rows     []int // B of each Forward call
}

const fakeLayers, fakeKVDim = 2, 2

func (m *fakeLM) VocabSize() int     { return len(m.next) }
func (m *fakeLM) ContextLength() int { return m.ctx }

func (m *fakeLM) NewCache(B, maxLen int) *nn.KVCache {
	return nn.NewKVCache(fakeLayers, B, maxLen, 1, fakeKVDim)
}

func (m *fakeLM) Forward(c *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error {
	V := len(m.next)
	outT := T
	if lastOnly {
		outT = 1
	}
	if B != c.B || len(ids) != B*T || len(logits) != B*outT*V || len(c.K[0]) != B*c.MaxLen*fakeKVDim {
		panic(fmt.Sprintf("fakeLM: B %d, T %d, cache rows %d (K %d), ids %d, logits %d", B, T, c.B, len(c.K[0]), len(ids), len(logits)))
	}
	for b := range B {
		if err := c.Room(b, T); err != nil {
			return err
		}
	}
	m.forwards++
	m.rows = append(m.rows, B)
	for b := range B {
		for t := range T {
			pos := c.Len[b] + t
			for l := range fakeLayers {
				at := (b*c.MaxLen + pos) * fakeKVDim
				c.K[l][at], c.K[l][at+1] = float32(ids[b*T+t]), float32(pos)
				c.V[l][at], c.V[l][at+1] = float32(ids[b*T+t]*int32(l+1)), float32(pos)
			}
		}
		for t := T - outT; t < T; t++ {
			n := c.Len[b] + t + 1 // positions visible to this one
			h := uint64(17)
			for p := range n {
				for l := range fakeLayers {
					at := (b*c.MaxLen + p) * fakeKVDim
					if c.K[l][at+1] != float32(p) || c.V[l][at+1] != float32(p) || c.V[l][at] != c.K[l][at]*float32(l+1) {
						return fmt.Errorf("fakeLM: row %d position %d of layer %d is corrupt", b, p, l)
					}
				}
				h = mix(h ^ uint64(c.K[0][(b*c.MaxLen+p)*fakeKVDim]) ^ uint64(p)<<32)
			}
			last := int(c.K[0][(b*c.MaxLen+n-1)*fakeKVDim])
			row := logits[(b*outT+t-(T-outT))*V:][:V]
			for v := range row {
				row[v] = float32(mix(h^uint64(v))>>40) / float32(1<<23) // [0, 2)
			}
			row[m.next[last]] += 5
		}
	}
	for b := range B {
		c.Len[b] += T
	}
	return nil
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// fakeTok is a tokenizer whose ids stand for fixed byte strings (pieces);
// ids 0 (BOS) and 1 (EOS) are special.
type fakeTok struct{ pieces []string }

func (f fakeTok) Decode(ids []int, skipSpecial bool) string {
	var b strings.Builder
	for _, id := range ids {
		if skipSpecial && id < 2 {
			continue
		}
		b.WriteString(f.pieces[id])
	}
	return b.String()
}

// fakeDecoder decodes the fake vocabulary (special tokens skipped) the way
// tokenizer.StreamDecoder does: text of whole characters only.
func fakeDecoder() TextDecoder { return &redecoder{tok: fakeTok{fakePieces}, skipSpecial: true} }

// redecoder decodes the whole id list again at each step and returns what
// grew, holding back an incomplete UTF-8 character at the end.
type redecoder struct {
	tok         fakeTok
	skipSpecial bool
	ids         []int
	sent        int // bytes of the decoded text already returned
}

func (d *redecoder) Add(id int) string {
	d.ids = append(d.ids, id)
	s := d.tok.Decode(d.ids, d.skipSpecial)
	if len(s) <= d.sent {
		return ""
	}
	end := len(s)
	// Hold back a trailing character that is not complete yet.
	for i := len(s) - 1; i >= d.sent && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				end = i
			}
			break
		}
	}
	out := s[d.sent:end]
	d.sent = end
	return out
}

func (d *redecoder) Flush() string {
	s := d.tok.Decode(d.ids, d.skipSpecial)
	if len(s) <= d.sent {
		return ""
	}
	out := s[d.sent:]
	d.sent = len(s)
	return out
}

// Ids of the test vocabulary.
const (
	tBOS = iota
	tEOS
	tA    // "a"
	tB    // "b"
	tC    // "c"
	tSTO  // "STO"
	tP    // "P"
	tBang // "!"
	tE1   // "\xc3": first byte of "é"
	tE2   // "\xa9": second byte of "é"
	tSp   // " "
	tX    // "x"
	tY    // "y"
	tZ    // "z"
	tW    // "w"
	tV    // "v"
	tLong // "abcd": one token holding several stop-string candidates
	fakeV
)

var fakePieces = []string{"<s>", "</s>", "a", "b", "c", "STO", "P", "!", "\xc3", "\xa9", " ", "x", "y", "z", "w", "v", "abcd"}

// newFake returns a model with context ctx whose greedy successor of id is
// next[id], and tA for ids not in next.
func newFake(ctx int, next map[int]int) *fakeLM {
	m := &fakeLM{next: make([]int, fakeV), ctx: ctx}
	for i := range m.next {
		m.next[i] = tA
		if n, ok := next[i]; ok {
			m.next[i] = n
		}
	}
	return m
}
