package data

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/loftml/loft/tokenizer"
)

// PadID returns the id that pads batch rows: the tokenizer's PAD, else its
// EOS, else 0. Padded positions never count in the loss.
func PadID(sp tokenizer.Specials) int32 {
	switch {
	case sp.PAD >= 0:
		return int32(sp.PAD)
	case sp.EOS >= 0:
		return int32(sp.EOS)
	}
	return 0
}

// BatchOptions configures a Batcher.
type BatchOptions struct {
	// BatchSize is the number of rows per batch (B > 0).
	BatchSize int
	// SeqLen caps T; with Pack or FixedLength every batch has T = SeqLen.
	SeqLen int
	// Pack places whole examples one after another in rows of SeqLen.
	Pack bool
	// FixedLength pads every batch to T = SeqLen.
	FixedLength bool
	// Shuffle permutes the rows each epoch with a seed derived from Seed
	// and the epoch; off, batch k holds rows k·B … k·B+B−1 in file order.
	Shuffle bool
	Seed    uint64
	// Pad is the id of padding positions (see PadID).
	Pad int32
}

// Batch is one (B, T) batch.
type Batch struct {
	B, T    int
	IDs     []int32 // (B, T) input ids, right-padded with the pad id
	Targets []int32 // (B, T) the id position t must predict, or IgnoreIndex
	// Tokens is the number of targets that are not IgnoreIndex: the
	// denominator of a token-weighted mean loss.
	Tokens int
	// Rows are the row numbers in the batch (B): example indices, or packed
	// row indices with Pack.
	Rows []int
}

// Batcher cuts examples into batches. Batch(epoch, k) depends only on its
// arguments and the options, so a resumed run rebuilds the same batches.
// It is safe for concurrent use.
type Batcher struct {
	opt      BatchOptions
	examples []Example
	rows     [][]int // examples per row: one each, or several when packing

	mu         sync.Mutex
	orderEpoch int
	order      []int // row order of orderEpoch (nil: not computed)
}

// NewBatcher checks the examples and, with Pack, packs them in order.
func NewBatcher(examples []Example, opt BatchOptions) (*Batcher, error) {
	if opt.BatchSize <= 0 {
		return nil, fmt.Errorf("data: --batch-size must be positive, got %d", opt.BatchSize)
	}
	if (opt.Pack || opt.FixedLength) && opt.SeqLen <= 0 {
		return nil, fmt.Errorf("data: packing and fixed-length batches need a positive --seq-len, got %d", opt.SeqLen)
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("data: no examples to batch")
	}
	for i, ex := range examples {
		if len(ex.IDs) != len(ex.Labels) {
			return nil, fmt.Errorf("data: example %d has %d ids and %d labels", i, len(ex.IDs), len(ex.Labels))
		}
		if len(ex.IDs) == 0 {
			return nil, fmt.Errorf("data: example %d is empty", i)
		}
		if opt.SeqLen > 0 && len(ex.IDs) > opt.SeqLen {
			return nil, fmt.Errorf("data: example %d has %d tokens, more than --seq-len %d", i, len(ex.IDs), opt.SeqLen)
		}
	}
	b := &Batcher{opt: opt, examples: examples}
	if opt.Pack {
		var cur []int
		used := 0
		for i, ex := range examples {
			if used+len(ex.IDs) > opt.SeqLen {
				b.rows = append(b.rows, cur)
				cur, used = nil, 0
			}
			cur = append(cur, i)
			used += len(ex.IDs)
		}
		b.rows = append(b.rows, cur)
	} else {
		b.rows = make([][]int, len(examples))
		for i := range examples {
			b.rows[i] = []int{i}
		}
	}
	return b, nil
}

// Rows returns the number of rows per epoch: examples, or packed rows.
func (b *Batcher) Rows() int { return len(b.rows) }

// Len returns the number of batches per epoch (the last may be smaller).
func (b *Batcher) Len() int { return (len(b.rows) + b.opt.BatchSize - 1) / b.opt.BatchSize }

// Order returns the row order of an epoch: 0, 1, 2… without shuffling,
// else a permutation seeded by (Seed, epoch). The slice is shared: do not
// modify it.
func (b *Batcher) Order(epoch int) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.order == nil || b.orderEpoch != epoch {
		b.order = permutation(len(b.rows), b.opt.Shuffle, b.opt.Seed, uint64(epoch))
		b.orderEpoch = epoch
	}
	return b.order
}

// permutation returns 0..n-1, shuffled by Fisher–Yates with a PCG stream
// seeded by (seed, stream) when shuffle is set.
func permutation(n int, shuffle bool, seed, stream uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	if !shuffle {
		return p
	}
	r := rand.New(rand.NewPCG(seed, stream))
	for i := n - 1; i > 0; i-- {
		j := int(r.Uint64N(uint64(i + 1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Batch returns batch k (0 ≤ k < Len) of an epoch.
func (b *Batcher) Batch(epoch, k int) Batch {
	if k < 0 || k >= b.Len() {
		panic(fmt.Sprintf("data: batch %d of %d", k, b.Len()))
	}
	order := b.Order(epoch)
	lo := k * b.opt.BatchSize
	hi := min(lo+b.opt.BatchSize, len(order))
	rows := append([]int(nil), order[lo:hi]...)
	T := b.opt.SeqLen
	if !b.opt.Pack && !b.opt.FixedLength {
		T = 0
		for _, r := range rows {
			T = max(T, len(b.examples[b.rows[r][0]].IDs))
		}
		T = (T + 7) / 8 * 8
		if b.opt.SeqLen > 0 {
			T = min(T, b.opt.SeqLen)
		}
	}
	bt := Batch{B: len(rows), T: T, Rows: rows,
		IDs: make([]int32, len(rows)*T), Targets: make([]int32, len(rows)*T)}
	for i, r := range rows {
		bt.Tokens += b.fillRow(bt.IDs[i*T:(i+1)*T], bt.Targets[i*T:(i+1)*T], b.rows[r])
	}
	return bt
}

// fillRow writes the examples of one row into ids and targets (T) and
// returns the number of counted targets. Within an example, position t
// predicts token t+1 when its label counts; an example's last position
// predicts nothing (the next packed example's first token is never a
// target, as it would not be unpacked); padding predicts nothing.
func (b *Batcher) fillRow(ids, targets []int32, exs []int) int {
	pos, n := 0, 0
	for _, e := range exs {
		ex := b.examples[e]
		copy(ids[pos:], ex.IDs)
		for t := 0; t+1 < len(ex.IDs); t++ {
			tg := int32(IgnoreIndex)
			if ex.Labels[t+1] != IgnoreIndex {
				tg = ex.IDs[t+1]
				n++
			}
			targets[pos+t] = tg
		}
		targets[pos+len(ex.IDs)-1] = IgnoreIndex
		pos += len(ex.IDs)
	}
	for ; pos < len(ids); pos++ {
		ids[pos] = b.opt.Pad
		targets[pos] = IgnoreIndex
	}
	return n
}
