package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// headChunkValues bounds the logits HeadLoss holds at once: rows of V
// logits are processed in chunks of at most this many values (256 MiB), so
// a 150k vocabulary never needs (B·T, V) logits in memory. Each chunk is
// one GEMM that packs the whole head weight (V, C) forward and again
// backward, so chunks must not be small: at 32 MiB, Qwen2.5-0.5B's
// 136M-value head was packed 38 times a step at B·T = 1024, 55 rows per
// GEMM, and packing was 16% of the step.
const headChunkValues = 1 << 26

// HeadLoss is the output projection fused with cross-entropy, for
// training. For x (N, C), the final norm's output, it computes the logits
// of a chunk of rows through head (frozen: no weight gradient), their
// cross-entropy against targets (N) (kernels.IgnoreIndex rows not counted),
// turns the chunk's logits into their gradient in place and accumulates
// dx (N, C) += dlogits·W, the gradient of the summed loss (unscaled: the
// caller multiplies by its scale); a nil dx skips the gradient (an
// evaluation). It returns the summed loss and the number of counted rows. Targets must be in [0, V) or ignored (see
// CheckTargets). The chunk scratch is kept in s between calls.
func HeadLoss(s *HeadScratch, head LinearLayer, dx, x []float32, targets []int32, N, V int) (sum float64, count int) {
	return headLoss(s, head, dx, x, targets, N, V, headChunkValues)
}

// headLoss is HeadLoss with chunks of at most chunkValues logits, split
// into equal numbers of rows (no small last chunk).
func headLoss(s *HeadScratch, head LinearLayer, dx, x []float32, targets []int32, N, V, chunkValues int) (sum float64, count int) {
	rows := max(1, min(N, chunkValues/V))
	chunks := (N + rows - 1) / rows
	rows = (N + chunks - 1) / chunks
	s.logits = Grow(s.logits, rows*V)
	s.lse, s.losses = Grow(s.lse, rows), Grow(s.losses, rows)
	C := head.Base().In
	for r0 := 0; r0 < N; r0 += rows {
		n := min(rows, N-r0)
		lg, xs, tg := s.logits[:n*V], x[r0*C:(r0+n)*C], targets[r0:r0+n]
		head.Forward(lg, xs, n)
		cs, cc := kernels.CrossEntropyForward(s.losses, s.lse, lg, tg, n, V, kernels.IgnoreIndex)
		sum, count = sum+cs, count+cc
		if cc == 0 || dx == nil {
			continue
		}
		kernels.CrossEntropyBackward(lg, lg, s.lse, tg, n, V, kernels.IgnoreIndex, 1)
		head.Backward(dx[r0*C:(r0+n)*C], lg, xs, n)
	}
	return sum, count
}

// HeadScratch holds HeadLoss's chunk buffers.
type HeadScratch struct {
	logits      []float32 // (rows, V)
	lse, losses []float32 // (rows)
}

// CheckTargets returns an error naming the first target that is neither
// in [0, V) nor kernels.IgnoreIndex.
func CheckTargets(targets []int32, V int) error {
	for i, t := range targets {
		if t != kernels.IgnoreIndex && (t < 0 || int(t) >= V) {
			return fmt.Errorf("target %d at position %d is outside the vocabulary of %d (and is not the ignore index %d)", t, i, V, kernels.IgnoreIndex)
		}
	}
	return nil
}
