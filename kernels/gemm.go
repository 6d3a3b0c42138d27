package kernels

import (
	"fmt"
	"strings"
)

// Gemm computes C = op(A)·op(B), or C += op(A)·op(B) when accumulate is set,
// for row-major matrices with leading dimensions (row strides) lda, ldb, ldc.
// op(A) is (M, K): A itself (M, K) with lda >= K, or, with transA, Aᵀ where A
// is stored (K, M) with lda >= M. op(B) is (K, N) likewise: B (K, N) with
// ldb >= N, or, with transB, B stored (N, K) with ldb >= K. C is (M, N) with
// ldc >= N; C must not overlap A or B.
//
// It runs the cache-blocked algorithm of gemm_blocked.go on the micro-kernel
// GemmVariant names, on Threads() workers once 2·M·N·K reaches a few MFLOP.
// Results are the same for any number of threads. It panics, naming the
// shapes, when a slice is too short for its sizes and stride.
func Gemm(transA, transB bool, M, N, K int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkGemm(transA, transB, M, N, K, a, lda, b, ldb, c, ldc)
	if M == 0 || N == 0 {
		return
	}
	g := gemmArgs{transA: transA, transB: transB, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate}
	gemmRun(&g, M, N, K, gemmThreads(M, N, K), fastKernel)
}

// MatMul computes c (M, N) = a (M, K) · b (K, N), or += with accumulate.
func MatMul(c, a, b []float32, M, K, N int, accumulate bool) {
	Gemm(false, false, M, N, K, a, K, b, N, c, N, accumulate)
}

// MatMulBT computes c (M, N) = a (M, K) · bᵀ with b (N, K), or += with
// accumulate. This is a linear layer's forward, x·Wᵀ.
func MatMulBT(c, a, b []float32, M, K, N int, accumulate bool) {
	Gemm(false, true, M, N, K, a, K, b, K, c, N, accumulate)
}

// MatMulAT computes c (M, N) = aᵀ · b with a (K, M), b (K, N), or += with
// accumulate. This is a linear layer's weight gradient, dyᵀ·x.
func MatMulAT(c, a, b []float32, M, K, N int, accumulate bool) {
	Gemm(true, false, M, N, K, a, M, b, N, c, N, accumulate)
}

// checkGemm panics with both shapes when the slices are too short for the
// sizes given: a broken internal invariant, never a user error.
func checkGemm(transA, transB bool, M, N, K int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	checkGemmLen(transA, transB, M, N, K, len(a), lda, len(b), ldb, len(c), ldc)
}

// checkGemmLen is checkGemm on slice lengths, shared with the bf16 variant.
func checkGemmLen(transA, transB bool, M, N, K int, lenA, lda, lenB, ldb, lenC, ldc int) {
	if M < 0 || N < 0 || K < 0 {
		panic(fmt.Sprintf("kernels.Gemm: negative size M=%d N=%d K=%d", M, N, K))
	}
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	ar, ac := M, K
	if transA {
		ar, ac = K, M
	}
	br, bc := K, N
	if transB {
		br, bc = N, K
	}
	switch {
	case ar > 1 && lda < ac, lenA < need(ar, ac, lda):
		panic(fmt.Sprintf("kernels.Gemm: A is %dx%d with lda %d but has %d elements", ar, ac, lda, lenA))
	case br > 1 && ldb < bc, lenB < need(br, bc, ldb):
		panic(fmt.Sprintf("kernels.Gemm: B is %dx%d with ldb %d but has %d elements", br, bc, ldb, lenB))
	case M > 1 && ldc < N, lenC < need(M, N, ldc):
		panic(fmt.Sprintf("kernels.Gemm: C is %dx%d with ldc %d but has %d elements", M, N, ldc, lenC))
	}
}

// gemmRef is the slow, obvious reference: every fast path is tested
// against it. It accumulates in float32 in k order.
func gemmRef(transA, transB bool, M, N, K int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			var s float32
			for p := 0; p < K; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if accumulate {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

// namedKernel is a micro-kernel with the name GemmVariant reports for it.
type namedKernel struct {
	name string
	k    microKernel
}

// fastKernel is the micro-kernel Gemm uses, fastKernelName its name: the
// last of gemmKernels, the fastest this CPU runs, unless SetGemmKernel
// picked another.
var fastKernel, fastKernelName = func() (microKernel, string) {
	ks := gemmKernels()
	return ks[len(ks)-1].k, ks[len(ks)-1].name
}()

// GemmVariant names the micro-kernel Gemm runs on this machine: "avx512",
// "avx2-fma" or "go".
func GemmVariant() string { return fastKernelName }

// GemmKernels names the micro-kernels this machine can run, slowest first:
// "go" everywhere, then "avx2-fma" and "avx512" where the CPU has them.
func GemmKernels() []string {
	var names []string
	for _, k := range gemmKernels() {
		names = append(names, k.name)
	}
	return names
}

// SetGemmKernel makes Gemm use the micro-kernel name, one of GemmKernels,
// to compare them on one machine; the assembly kernels give the same bits
// (the Go one rounds each product before adding: Go does not fuse). Like
// SetThreads, call it while no Gemm runs.
func SetGemmKernel(name string) error {
	for _, k := range gemmKernels() {
		if k.name == name {
			fastKernel, fastKernelName = k.k, k.name
			return nil
		}
	}
	return fmt.Errorf("kernels: no GEMM kernel %q on this machine (it has %s)", name, strings.Join(GemmKernels(), ", "))
}
