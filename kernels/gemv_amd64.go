//go:build amd64 && !purego

package kernels

import "fmt"

//go:generate go run -C ../internal/asmgen ./gemv -pkg kernels -out ../../kernels/gemv_amd64.s -stubs ../../kernels/gemv_stubs_amd64.go

// gemvRowsFast writes y[o] = w[o·ldw : o·ldw+in]·x for every o, in =
// len(x) <= ldw, with the generated AVX2/FMA kernel where the CPU has both
// and the sizes suit it (len(x) a multiple of 16), the rest in Go. Whole
// weight matrices (contiguous rows, len(x) a multiple of 64) go to the
// AVX-512 kernel where the CPU has it; it sums in another order, so the
// last bits of decoding differ between CPUs with and without AVX-512.
func gemvRowsFast(y, w, x []float32, ldw int) {
	in := len(x)
	if !useVecAVX2 || in == 0 || in%16 != 0 {
		gemvRowsGo(y, w, x, ldw)
		return
	}
	if hasAVX512 && ldw == in && in%64 == 0 {
		if len(w) < len(y)*in {
			panic(fmt.Sprintf("kernels: gemv of %d rows of %d on %d weights", len(y), in, len(w)))
		}
		n4 := 0
		if in >= gemvLongRow {
			n4 = len(y) &^ 3
			gemvRowsSeq4AVX512(y[:n4], w, x)
		}
		gemvRowsSeqAVX512(y[n4:], w[n4*in:], x)
		return
	}
	n4 := len(y) &^ 3
	if n4 > 0 {
		if len(w) < (n4-1)*ldw+in {
			panic(fmt.Sprintf("kernels: gemv of %d rows of %d (stride %d) on %d weights", n4, in, ldw, len(w)))
		}
		gemvRowsAVX2(y[:n4], w, x, ldw)
	}
	if n4 < len(y) {
		gemvRowsGo(y[n4:], w[n4*ldw:], x, ldw)
	}
}

// fmaPeakLoop returns the FMA loop that measures the peak of the vectors
// the GEMM kernel uses (SetGemmKernel's choice), with its FLOPs per
// iteration, or nil without AVX2 and FMA or with the Go kernel.
func fmaPeakLoop() (func(n int), int) {
	switch {
	case fastKernelName == "go":
		return nil, 0
	case hasAVX512 && fastKernelName == "avx512":
		return fmaPeakAVX512, 12 * 16 * 2
	case useVecAVX2:
		return fmaPeakAVX2, 12 * 8 * 2
	}
	return nil, 0
}

// streamSum returns the sum of x, in the generated streaming loop where the
// CPU has AVX2.
func streamSum(x []float32) float32 {
	n := len(x) &^ 63
	var s float32
	if useVecAVX2 && n > 0 {
		s = streamSumAVX2(x[:n])
	} else {
		n = 0
	}
	return s + vSum(x[n:])
}

// axpyRowsFast adds Σ_j p[j]·v[j·ldv : j·ldv+len(y)] to y, with the
// generated AVX2/FMA kernel where the CPU has both and len(y) is a
// multiple of 8, else in Go.
func axpyRowsFast(y, p, v []float32, ldv int) {
	if !useVecAVX2 || len(y)%8 != 0 || len(y) == 0 || len(p) == 0 {
		axpyRowsGo(y, p, v, ldv)
		return
	}
	if len(v) < (len(p)-1)*ldv+len(y) || ldv < len(y) {
		panic(fmt.Sprintf("kernels: axpy of %d rows of %d (stride %d) on %d values", len(p), len(y), ldv, len(v)))
	}
	axpyRowsAVX2(y, p, v, ldv)
}

// attnScoresAsm runs attnScoresG<g>AVX512 (g <= attnGroupMax heads, rows a
// multiple of 4, hs of 64), which also prefetches the value rows v beside
// the key rows, where the CPU has AVX-512, checking the sizes; it returns
// false where it cannot.
func attnScoresAsm(g int, s []float32, lds int, k, q, v []float32, rows, hs int) bool {
	if !hasAVX512 || hs < 64 || hs%64 != 0 || rows%4 != 0 || g < 1 || g > attnGroupMax {
		return false
	}
	if len(s) < (g-1)*lds+rows || lds < rows || len(k) < rows*hs || len(q) < g*hs || len(v) < rows*hs {
		panic(fmt.Sprintf("kernels: attention scores of %d heads, %d rows of %d: s %d (ld %d), k %d, q %d, v %d", g, rows, hs, len(s), lds, len(k), len(q), len(v)))
	}
	attnScoresKernels[g-1](s, lds, k, q, rows, hs, v)
	return true
}

// attnScoresKernels and attnValuesKernels are the generated kernels for 1
// to attnGroupMax heads.
var (
	attnScoresKernels = [attnGroupMax]func(s []float32, lds int, k, q []float32, rows, hs int, v []float32){
		attnScoresG1AVX512, attnScoresG2AVX512, attnScoresG3AVX512}
	attnValuesKernels = [attnGroupMax]func(o []float32, ldo int, p []float32, ldp int, v []float32, ldv, rows int){
		attnValuesG1AVX512, attnValuesG2AVX512, attnValuesG3AVX512}
)

// attnValuesAsm runs attnValuesG<g>AVX512 on 64 columns where the CPU has
// AVX-512, checking the sizes; it returns false where it cannot.
func attnValuesAsm(g int, o []float32, ldo int, p []float32, ldp int, v []float32, ldv, rows int) bool {
	if !hasAVX512 || g < 1 || g > attnGroupMax || rows < 1 {
		return false
	}
	if len(o) < (g-1)*ldo+64 || ldo < 64 || len(p) < (g-1)*ldp+rows || ldp < rows || ldv < 64 || len(v) < (rows-1)*ldv+64 {
		panic(fmt.Sprintf("kernels: attention values of %d heads, %d rows: o %d (ld %d), p %d (ld %d), v %d (ld %d)", g, rows, len(o), ldo, len(p), ldp, len(v), ldv))
	}
	attnValuesKernels[g-1](o, ldo, p, ldp, v, ldv, rows)
	return true
}
