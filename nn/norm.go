package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// RMSNorm is Llama's root-mean-square norm: y = x/sqrt(mean(x²) + eps)·w.
// It normalises rows of len(W) values.
type RMSNorm struct {
	W   []float32 // (C)
	Eps float32
}

// Forward writes out (N, C) and the saved rstd (N) for x (N, C). out may be x.
func (n *RMSNorm) Forward(out, rstd, x []float32, N int) {
	kernels.RMSNormForward(out, rstd, x, n.W, N, len(n.W), n.Eps)
}

// LayerNorm is torch.nn.LayerNorm over rows of len(W) values with biased
// variance: y = (x - mean)/sqrt(var + eps)·w + b.
type LayerNorm struct {
	W   []float32 // (C)
	B   []float32 // (C), nil for none
	Eps float32
}

// Forward writes out (N, C) and the saved mean and rstd (N) for x (N, C).
func (n *LayerNorm) Forward(out, mean, rstd, x []float32, N int) {
	kernels.LayerNormForward(out, mean, rstd, x, n.W, n.B, N, len(n.W), n.Eps)
}

// Embedding is a lookup table of V rows of C values.
type Embedding struct {
	V, C int
	W    []float32 // (V, C)
}

// Forward writes out (N, C) = W[ids]. ids (N) must be in [0, V): callers
// check ids at the user boundary (see CheckIDs).
func (e *Embedding) Forward(out []float32, ids []int32, N int) {
	kernels.EmbeddingForward(out, ids, e.W, N, e.V, e.C)
}

// CheckIDs returns an error naming the first id outside [0, V).
func CheckIDs(ids []int32, V int) error {
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			return &IDError{Pos: i, ID: id, V: V}
		}
	}
	return nil
}

// IDError reports a token id outside the vocabulary.
type IDError struct {
	Pos int
	ID  int32
	V   int
}

func (e *IDError) Error() string {
	return fmt.Sprintf("token id %d at position %d is outside the vocabulary of %d", e.ID, e.Pos, e.V)
}
