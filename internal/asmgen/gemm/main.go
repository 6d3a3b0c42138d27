// Command gemm generates kernels/gemm_amd64.s, the micro-kernels of loft's
// float32 GEMM (AVX2/FMA here; AVX-512 in avx512.go and avx512x16.go) and
// its packing routines (pack.go). Run it through `go generate ./kernels/`.
//
// Each AVX2 kernel computes n 6x16 tiles of C = A·B stacked down a column of C,
// keeping one tile at a time in 12 ymm accumulators (2 ymm of 8 floats per
// row), as in the BLIS Haswell sgemm kernel design (Van Zee & van de Geijn,
// "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", 2015).
// Per k step it loads one row of 16 B values into two ymm registers,
// broadcasts each of the 6 A values and issues 12 FMAs: 15 of the 16 ymm
// registers are live. Looping over the tiles here rather than in Go saves a
// call and its checks per tile, which shows when k is small (a LoRA rank).
//
// B is read as rows of 16 floats, row p at b + p*bks (a packed panel is 32
// columns wide, so bks = 32, and the Go wrapper runs its two halves; a
// row-major B read in place has bks = ldb); every tile uses the
// same B. Tile t's A starts at a + t*ps and its C at c + 6*t*ldc. A comes in
// two layouts, one kernel each:
//
//	gemmKernRC: row-contiguous, A[i,p] at a + i + p*aks (a packed panel has
//	            aks = 6; a transposed A read in place has aks = lda)
//	gemmKernKC: k-contiguous,   A[i,p] at a + i*lda + p (row-major A in place)
//
// With acc set the tiles are added to C, otherwise they overwrite C.
package main

import (
	"flag"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

const (
	mr     = 6  // rows of the register tile
	unroll = 4  // k steps per loop iteration
	f32    = 4  // bytes per float32
	nrByte = 64 // bytes in one row of 16 B values
)

// accs holds the 12 accumulators: row i uses accs[2i] (columns 0-7) and
// accs[2i+1] (columns 8-15).
var accs = []reg.VecPhysical{
	reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5,
	reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11,
}

// aLayout says how a kernel addresses A.
type aLayout int

const (
	rowContiguous aLayout = iota // A[i,p] at a + 4*i, next p at +aks bytes
	kContiguous                  // A[i,p] at a + i*lda bytes, next p at +4
)

func main() {
	flag.Parse()
	build.ConstraintExpr("amd64,!purego") // amd64 && !purego

	kernel("gemmKernRC", rowContiguous,
		"gemmKernRC computes n >= 1 6x16 tiles c[6t:6t+6] = a[t]·b over k >= 1 steps,",
		"or adds them to c when acc is set. A[t][i,p] is a[t*ps + i + p*aks];",
		"B[p,j] is b[p*bks + j]; C[i,j] is c[i*ldc + j].")
	kernel("gemmKernKC", kContiguous,
		"gemmKernKC computes n >= 1 6x16 tiles c[6t:6t+6] = a[t]·b over k >= 1 steps,",
		"or adds them to c when acc is set. A[t][i,p] is a[t*ps + i*lda + p];",
		"B[p,j] is b[p*bks + j]; C[i,j] is c[i*ldc + j].")
	kernel512("gemmKern512RC12", rowContiguous, 2)
	kernel512("gemmKern512RC6", rowContiguous, 1)
	kernel512("gemmKern512KC12", kContiguous, 2)
	kernel512("gemmKern512KC6", kContiguous, 1)
	kernel512x16("gemmKern512RC4x16", rowContiguous, 4)
	kernel512x16("gemmKern512RC2x16", rowContiguous, 2)
	kernel512x16("gemmKern512KC2x16", kContiguous, 2)
	packBTrans()
	packA6()
	build.Generate()
}

func kernel(name string, layout aLayout, doc ...string) {
	r := beginKernel(name, layout, doc...)
	n, as, ps, bks, c, ldc, aBase := r.n, r.as, r.ps, r.bks, r.c, r.ldc, r.aBase
	k, a, b := beginTile(name, aBase)

	// a3 addresses A's row 3 in the k-contiguous layout (see kcRow).
	var a3 reg.Register
	if layout == kContiguous {
		a3 = reg.R10
		plus3(a, as, a3)
	}
	aAddr := func(i int) operand.Mem {
		if layout == rowContiguous {
			return operand.Mem{Base: a, Disp: f32 * i}
		}
		return kcRow(a, a3, as, i)
	}
	advanceA := func() {
		if layout == rowContiguous {
			build.ADDQ(as, a)
			return
		}
		build.ADDQ(operand.Imm(f32), a)
		build.ADDQ(operand.Imm(f32), a3)
	}

	// C rows 0-5, like A's k-contiguous rows, from c and c3 = c + 3·ldc.
	c3 := reg.R12
	plus3(c, ldc, c3)
	cRow := func(i int) operand.Mem { return kcRow(c, c3, ldc, i) }

	build.Comment("Warm the C tile's cache lines while the k loop runs.")
	for i := 0; i < mr; i++ {
		build.PREFETCHT0(cRow(i))
		build.PREFETCHT0(cRow(i).Offset(nrByte - 1))
	}
	build.Comment("Zero the 12 accumulators.")
	for _, y := range accs {
		build.VXORPS(y, y, y)
	}

	step := func() {
		build.VMOVUPS(operand.Mem{Base: b}, reg.Y12)
		build.VMOVUPS(operand.Mem{Base: b, Disp: 32}, reg.Y13)
		for i := 0; i < mr; i++ {
			t := reg.Y14
			if i%2 == 1 {
				t = reg.Y15
			}
			build.VBROADCASTSS(aAddr(i), t)
			build.VFMADD231PS(reg.Y12, t, accs[2*i])
			build.VFMADD231PS(reg.Y13, t, accs[2*i+1])
		}
		advanceA()
		build.ADDQ(bks, b)
	}

	kLoop(name, k, step)
	accFlag := build.Load(build.Param("acc"), reg.AL)
	build.TESTB(accFlag, accFlag)
	build.JE(operand.LabelRef(name + "_write"))
	build.Comment("acc: add the current C tile.")
	for i := 0; i < mr; i++ {
		build.VADDPS(cRow(i), accs[2*i], accs[2*i])
		build.VADDPS(cRow(i).Offset(32), accs[2*i+1], accs[2*i+1])
	}
	build.Label(name + "_write")
	for i := 0; i < mr; i++ {
		build.VMOVUPS(accs[2*i], cRow(i))
		build.VMOVUPS(accs[2*i+1], cRow(i).Offset(32))
	}

	build.Comment("Next tile: A by ps, C down 6 rows (c3 + 3*ldc).")
	build.ADDQ(ps, aBase)
	build.LEAQ(operand.Mem{Base: c3, Index: ldc, Scale: 2}, c)
	build.ADDQ(ldc, c)
	build.DECQ(n)
	build.JNE(operand.LabelRef(name + "_tile"))
	build.VZEROUPPER()
	build.RET()
}
