package nn

import "github.com/loftml/loft/kernels"

// gemvMaxRows is the most input rows for which Linear multiplies row by
// row (y[n] = W·x[n]) instead of calling the blocked GEMM. With so few
// rows the GEMM's packing of W (a full copy of the weight per call) costs
// more than the multiply, and decoding is bound by reading W once.
const gemvMaxRows = 2

// gemvBT writes y (N, Out) = x (N, In)·Wᵀ for small N, reading each row of
// W (Out, In) once for all N rows, split over threads by output rows.
func gemvBT(y, x, w []float32, N, In, Out int) {
	kernels.ParallelFor(Out, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			wr := w[o*In : (o+1)*In]
			for n := 0; n < N; n++ {
				y[n*Out+o] = dot(wr, x[n*In:(n+1)*In])
			}
		}
	})
}

// dot returns Σ a[i]·b[i] with eight independent partial sums, so the
// additions pipeline.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		a8, b8 := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += a8[0] * b8[0]
		s1 += a8[1] * b8[1]
		s2 += a8[2] * b8[2]
		s3 += a8[3] * b8[3]
		s4 += a8[4] * b8[4]
		s5 += a8[5] * b8[5]
		s6 += a8[6] * b8[6]
		s7 += a8[7] * b8[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
