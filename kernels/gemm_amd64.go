//go:build amd64 && !purego

package kernels

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

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

// gemmKernAVX2 is the microKernel on the generated AVX2 assembly, whose
// tiles are 16 columns wide: it runs a 32-column B panel as two halves.
func gemmKernAVX2(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool, w int) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc, w)
	for h := 0; h < w; h += 16 {
		if ars == 1 {
			gemmKernRC(n, kc, &a[0], aks, ps, &b[h], bks, &c[h], ldc, acc)
		} else {
			gemmKernKC(n, kc, &a[0], ars, ps, &b[h], bks, &c[h], ldc, acc)
		}
	}
}

// gemmKernAVX512 is the microKernel on the generated AVX-512 assembly.
// For 32 columns the panels of A go in pairs (12x32 tiles) and a last odd
// one runs on the 6x32 kernel; for 16, in groups of 4 or 2 (24x16, 12x16)
// and a last odd one on the AVX2 kernel. Every kernel sums in the same
// order, so the results do not depend on the grouping.
func gemmKernAVX512(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool, w int) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc, w)
	if w == 16 {
		gemmKernAVX512x16(n, kc, a, ars, aks, ps, b, bks, c, ldc, acc)
		return
	}
	q, t := n/2, n-1 // pairs; the odd panel, if any
	if ars == 1 {
		if q > 0 {
			gemmKern512RC12(q, kc, &a[0], aks, ps, &b[0], bks, &c[0], ldc, acc)
		}
		if n%2 == 1 {
			gemmKern512RC6(1, kc, &a[t*ps], aks, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
		}
		return
	}
	if q > 0 {
		gemmKern512KC12(q, kc, &a[0], ars, ps, &b[0], bks, &c[0], ldc, acc)
	}
	if n%2 == 1 {
		gemmKern512KC6(1, kc, &a[t*ps], ars, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
	}
}

// gemmKernAVX512x16 is gemmKernAVX512 for 16 columns; the caller checked
// the arguments.
func gemmKernAVX512x16(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool) {
	t := 0 // panels done
	if ars == 1 {
		if q := n / 4; q > 0 {
			gemmKern512RC4x16(q, kc, &a[0], aks, ps, &b[0], bks, &c[0], ldc, acc)
			t = 4 * q
		}
		if n-t >= 2 {
			gemmKern512RC2x16(1, kc, &a[t*ps], aks, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
			t += 2
		}
		if t < n {
			gemmKernRC(1, kc, &a[t*ps], aks, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
		}
		return
	}
	if q := n / 2; q > 0 {
		gemmKern512KC2x16(q, kc, &a[0], ars, ps, &b[0], bks, &c[0], ldc, acc)
		t = 2 * q
	}
	if t < n {
		gemmKernKC(1, kc, &a[t*ps], ars, ps, &b[0], bks, &c[t*gemmMR*ldc], ldc, acc)
	}
}

// packBTransFast packs the first kc &^ 7 steps of a full transposed B
// panel, d[p*NR + j] = b[j*ldb + p], in the generated 8x8-block transpose,
// and returns how many steps it packed (0 without AVX2).
func packBTransFast(d, b []float32, ldb, kc int) int {
	kc8 := kc &^ 7
	if !hasAVX2FMA || kc8 == 0 {
		return 0
	}
	if len(d) < kc8*gemmNR || len(b) < (gemmNR-1)*ldb+kc8 {
		panic(fmt.Sprintf("kernels: packing %d steps of a B panel (ldb %d) from %d values into %d", kc8, ldb, len(b), len(d)))
	}
	packBTransAVX2(&d[0], &b[0], ldb, kc8)
	return kc8
}

// packA6Fast packs the first kc &^ 7 steps of a full panel of a row-major
// A, d[p*MR + i] = a[i*lda + p], in the generated 8x8-block transpose, and
// returns how many steps it packed (0 without AVX2).
func packA6Fast(d, a []float32, lda, kc int) int {
	kc8 := kc &^ 7
	if !hasAVX2FMA || kc8 == 0 {
		return 0
	}
	if len(d) < kc8*gemmMR || len(a) < (gemmMR-1)*lda+kc8 {
		panic(fmt.Sprintf("kernels: packing %d steps of an A panel (lda %d) from %d values into %d", kc8, lda, len(a), len(d)))
	}
	packA6AVX2(&d[0], &a[0], lda, kc8)
	return kc8
}
