package train

import "fmt"

// Ignore is the target value of positions that do not count in the loss
// (PyTorch's ignore_index -100).
const Ignore = -100

// Batch is one micro-batch of right-padded rows.
type Batch struct {
	IDs     []int32 // (B, T) input tokens
	Targets []int32 // (B, T) token each position predicts (already shifted), Ignore where not counted
	B, T    int
}

// Count returns the number of counted targets (not Ignore).
func (b Batch) Count() int {
	n := 0
	for _, t := range b.Targets {
		if t != Ignore {
			n++
		}
	}
	return n
}

// check reports a batch whose slices do not hold B·T values.
func (b Batch) check() error {
	if b.B < 1 || b.T < 1 || len(b.IDs) != b.B*b.T || len(b.Targets) != b.B*b.T {
		return fmt.Errorf("train: batch of shape (%d, %d) has %d ids and %d targets", b.B, b.T, len(b.IDs), len(b.Targets))
	}
	return nil
}

// Data is a training or validation set as micro-batches.
type Data interface {
	// Len is the number of micro-batches in one epoch (at least 1).
	Len() int
	// Batch returns micro-batch i (0 <= i < Len()) of epoch epoch. The
	// order of an epoch must be a pure function of the data's seed and the
	// epoch, so that a run resumed at (epoch, i) sees the batches the
	// uninterrupted run would have seen.
	Batch(epoch, i int) (Batch, error)
}

// Batches is Data over a fixed list of micro-batches, the same order every
// epoch (no shuffling).
type Batches []Batch

// Len returns the number of batches.
func (d Batches) Len() int { return len(d) }

// Batch returns batch i; the epoch does not change the order.
func (d Batches) Batch(epoch, i int) (Batch, error) {
	if i < 0 || i >= len(d) {
		return Batch{}, fmt.Errorf("train: batch %d out of range [0, %d)", i, len(d))
	}
	return d[i], nil
}
