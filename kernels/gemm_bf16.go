package kernels

// GemmBF16B is Gemm with B given as bfloat16 bits (the upper half of a
// float32's bits, as models ship their weights): C = op(A)·op(B), or C +=
// with accumulate. B is converted to float32 while it is packed, so it runs
// at the speed of Gemm without a float32 copy of the weights. Sizes and
// strides are as for Gemm.
func GemmBF16B(transA, transB bool, M, N, K int, a []float32, lda int, b []uint16, ldb int, c []float32, ldc int, accumulate bool) {
	checkGemmLen(transA, transB, M, N, K, len(a), lda, len(b), ldb, len(c), ldc)
	if M == 0 || N == 0 {
		return
	}
	g := gemmArgs{transA: transA, transB: transB, a: a, lda: lda, bh: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate}
	gemmRun(&g, M, N, K, gemmThreads(M, N, K), fastKernel)
}

// MatMulBTBF16 computes c (M, N) = a (M, K) · wᵀ with the weight w (N, K) in
// bf16 bits, or += with accumulate: a linear layer's forward, x·Wᵀ.
func MatMulBTBF16(c, a []float32, w []uint16, M, K, N int, accumulate bool) {
	GemmBF16B(false, true, M, N, K, a, K, w, K, c, N, accumulate)
}
