package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// gemvMaxRows is the most input rows for which Linear multiplies row by
// row (y[n] = W·x[n]) instead of calling the blocked GEMM. With so few
// rows the GEMM's packing of W (a full copy of the weight per call) costs
// more than the multiply, and decoding is bound by reading W once.
const gemvMaxRows = 2

// gemvBT writes y (N, Out) = x (N, In)·Wᵀ + b (nil for none) for small N:
// kernels.MatVecBT, which reads W once, split over threads by output rows.
func gemvBT(y, x, w, b []float32, N, In, Out int) {
	kernels.MatVecBT(y, x, w, b, N, In, Out)
}

// ForwardShared writes ys[k] (N, Out_k) = layers[k].Forward(x) for layers
// that read the same input x (N, In): a layer's q/k/v or gate/up. When
// decoding (N <= gemvMaxRows) through plain *Linear layers, one GEMV over
// all their weights (kernels.MatVecBTMany) replaces a parallel loop per
// layer; otherwise, or with a wrapper such as LoRA among them, each
// layer's own Forward runs. At most 4 layers.
func ForwardShared(x []float32, N int, ys [][]float32, layers ...LinearLayer) {
	if len(ys) != len(layers) || len(layers) > 4 {
		panic(fmt.Sprintf("nn.ForwardShared: %d outputs for %d layers (at most 4)", len(ys), len(layers)))
	}
	var ws, bs [4][]float32
	var outs [4]int
	fuse := N <= gemvMaxRows
	for k, l := range layers {
		b, ok := l.(*Linear)
		if !ok || b.In != layers[0].Base().In {
			fuse = false
			break
		}
		if len(x) < N*b.In || len(ys[k]) < N*b.Out {
			panic(fmt.Sprintf("nn.Linear(%d→%d): x has %d values, y %d, for N=%d", b.In, b.Out, len(x), len(ys[k]), N))
		}
		ws[k], bs[k], outs[k] = b.W, b.B, b.Out
	}
	if !fuse {
		for k, l := range layers {
			l.Forward(ys[k], x, N)
		}
		return
	}
	n := len(layers)
	kernels.MatVecBTMany(ys, ws[:n], bs[:n], outs[:n], x, N, layers[0].Base().In)
}
