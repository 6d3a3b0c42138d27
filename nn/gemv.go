package nn

import "github.com/loftml/loft/kernels"

// gemvMaxRows is the most input rows for which Linear multiplies row by
// row (y[n] = W·x[n]) instead of calling the blocked GEMM. With so few
// rows the GEMM's packing of W (a full copy of the weight per call) costs
// more than the multiply, and decoding is bound by reading W once.
const gemvMaxRows = 2

// gemvBT writes y (N, Out) = x (N, In)·Wᵀ for small N: kernels.MatVecBT,
// which reads W once, split over threads by output rows.
func gemvBT(y, x, w []float32, N, In, Out int) {
	kernels.MatVecBT(y, x, w, N, In, Out)
}
