//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run -C ../internal/asmgen ./gemm -pkg kernels -out ../../kernels/gemm_amd64.s -stubs ../../kernels/gemm_stubs_amd64.go

// The micro-kernels this CPU can run, fastest last. x/sys/cpu reports
// AVX-512 only where the operating system saves the zmm registers.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512  = hasAVX2FMA && cpu.X86.HasAVX512F
)

// gemmKernels lists the micro-kernels this machine runs, the pure-Go twin
// first and the one Gemm uses last.
func gemmKernels() []namedKernel {
	ks := []namedKernel{{"go", gemmKernGo}}
	if hasAVX2FMA {
		ks = append(ks, namedKernel{"avx2-fma", gemmKernAVX2})
	}
	if hasAVX512 {
		ks = append(ks, namedKernel{"avx512", gemmKernAVX512})
	}
	return ks
}

// gemmKernAVX2 is the microKernel on the generated AVX2 assembly.
func gemmKernAVX2(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc)
	if ars == 1 {
		gemmKernRC(n, kc, &a[0], aks, ps, &b[0], bks, &c[0], ldc, acc)
	} else {
		gemmKernKC(n, kc, &a[0], ars, ps, &b[0], bks, &c[0], ldc, acc)
	}
}

// gemmKernAVX512 is the microKernel on the generated AVX-512 assembly: the
// tiles go in groups of 4 (row-contiguous A) or 2 (k-contiguous A), and a
// last tile that makes no group runs on the AVX2 kernel, whose sums come
// in the same order.
func gemmKernAVX512(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc)
	t := 0 // tiles done
	if ars == 1 {
		if q := n / 4; q > 0 {
			gemmKern512RC4(q, kc, &a[0], aks, ps, &b[0], bks, &c[0], ldc, acc)
			t = 4 * q
		}
		if n-t >= 2 {
			gemmKern512RC2(1, kc, &a[t*ps], aks, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
			t += 2
		}
		if t < n {
			gemmKernRC(1, kc, &a[t*ps], aks, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
		}
		return
	}
	if q := n / 2; q > 0 {
		gemmKern512KC2(q, kc, &a[0], ars, ps, &b[0], bks, &c[0], ldc, acc)
		t = 2 * q
	}
	if t < n {
		gemmKernKC(1, kc, &a[t*ps], ars, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
	}
}
