package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/loftml/loft/kernels"
)

// TestHeadLossChunks checks that the chunked head loss gives the same sum,
// count and input gradient for any chunk size as the unfused computation
// (full logits, kernels.CrossEntropyForward/Backward, dx = dlogits·W), on
// chunk sizes that split N = 7 rows as 7, 4+3, 3+3+1 and 1 x 7, with an
// ignored target.
func TestHeadLossChunks(t *testing.T) {
	const N, C, V = 7, 5, 11
	rng := rand.New(rand.NewPCG(5, 6))
	head := NewLinear(C, V, false)
	x := make([]float32, N*C)
	for i := range head.W {
		head.W[i] = rng.Float32()*2 - 1
	}
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	targets := []int32{3, 0, kernels.IgnoreIndex, 10, 7, 7, 1}

	logits := make([]float32, N*V)
	head.Forward(logits, x, N)
	losses, lse := make([]float32, N), make([]float32, N)
	wantSum, wantCount := kernels.CrossEntropyForward(losses, lse, logits, targets, N, V, kernels.IgnoreIndex)
	kernels.CrossEntropyBackward(logits, logits, lse, targets, N, V, kernels.IgnoreIndex, 1)
	wantDx := make([]float32, N*C)
	kernels.MatMul(wantDx, logits, head.W, N, V, C, false)

	for _, chunk := range []int{N * V, 4 * V, 3 * V, V, 1} {
		var s HeadScratch
		dx := make([]float32, N*C)
		sum, count := headLoss(&s, head, dx, x, targets, N, V, chunk)
		if count != wantCount || math.Abs(sum-wantSum) > 1e-5 {
			t.Errorf("chunk %d: sum %v count %d, want %v, %d", chunk, sum, count, wantSum, wantCount)
		}
		for i := range dx {
			if d := math.Abs(float64(dx[i] - wantDx[i])); d > 1e-5 {
				t.Fatalf("chunk %d: dx[%d] = %g, want %g", chunk, i, dx[i], wantDx[i])
			}
		}
	}
}
