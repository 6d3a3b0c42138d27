package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels compute register tiles of 6g rows by 32 columns,
// g = 1 or 2 of the GEMM's 6-row panels, on the same packed panels as the
// AVX2 kernels (B panels are 32 columns wide; the AVX2 kernel takes them as
// two halves). A row of 32 C values is two zmm accumulators: 24 of the 32
// zmm registers for g = 2. Per k step a kernel loads one row of 32 B values
// into two zmm, broadcasts each of the 6g A values and issues 12g FMAs.
// Measured on a Zen 5 core with A and B in L1: 264 GFLOP/s for the 12x32
// tile, 262 for 6x32, against an FMA peak of 270 (and 242 for the 24x16
// tile of an earlier version, 135 for the AVX2 kernel).
//
// The kernel's n counts tiles of 6g rows; the Go wrapper runs a last odd
// panel on the g = 1 kernel.

const nr512 = 32 // columns of the AVX-512 tile

// kernel512 generates name, a kernel on tiles of g panels in layout.
func kernel512(name string, layout aLayout, g int) {
	sig := "func(n, k int, a *float32, aks, ps int, b *float32, bks int, c *float32, ldc int, acc bool)"
	if layout == kContiguous {
		sig = "func(n, k int, a *float32, lda, ps int, b *float32, bks int, c *float32, ldc int, acc bool)"
	}
	build.TEXT(name, build.NOSPLIT, sig)
	build.Pragma("noescape")
	rows := mr * g
	aDoc := "A[t][i,p] is a[t*ps + i + p*aks]"
	if layout == kContiguous {
		aDoc = "A[t][i,p] is a[t*ps + i*lda + p]"
	}
	build.Doc(
		fmt.Sprintf("%s computes n >= 1 tiles of %dx%d (%d panels of 6 rows each) c = a·b", name, rows, nr512, g),
		"over k >= 1 steps with AVX-512, or adds them to c when acc is set.",
		aDoc+" for panel t;",
		"B[p,j] is b[p*bks + j]; C[i,j] is c[i*ldc + j].")

	n := build.Load(build.Param("n"), reg.RBX)
	var as reg.Register
	if layout == kContiguous {
		as = build.Load(build.Param("lda"), reg.R8)
	} else {
		as = build.Load(build.Param("aks"), reg.R8)
	}
	build.SHLQ(operand.Imm(2), as)
	ps := build.Load(build.Param("ps"), reg.R13)
	build.SHLQ(operand.Imm(2), ps)
	bks := build.Load(build.Param("bks"), reg.R9)
	build.SHLQ(operand.Imm(2), bks)
	c := build.Load(build.Param("c"), reg.RDX)
	ldc := build.Load(build.Param("ldc"), reg.R11)
	build.SHLQ(operand.Imm(2), ldc)
	aBase := reg.R15
	build.Load(build.Param("a"), aBase)

	k, a, b := reg.RCX, reg.RSI, reg.RDI
	walk := reg.R12 // steps down C's rows
	build.Label(name + "_tile")
	build.Load(build.Param("k"), k)
	build.MOVQ(aBase, a)
	build.Load(build.Param("b"), b)

	// Base registers for A. Row-contiguous: panel t row i at a + t*ps + 4i.
	// k-contiguous: panel t row i at a + t*ps + i*lda, rows 0-5 from the
	// panel's base and base+3lda as in the AVX2 kernel.
	var bases []reg.Register // k-contiguous, per panel: base, base+3lda
	if layout == kContiguous {
		a03 := reg.R10
		build.LEAQ(operand.Mem{Base: a, Index: as, Scale: 2}, a03)
		build.ADDQ(as, a03)
		bases = []reg.Register{a, a03}
		if g == 2 {
			a1, a13 := reg.R14, reg.RAX
			build.LEAQ(operand.Mem{Base: a, Index: ps, Scale: 1}, a1)
			build.LEAQ(operand.Mem{Base: a1, Index: as, Scale: 2}, a13)
			build.ADDQ(as, a13)
			bases = append(bases, a1, a13)
		}
	}
	aAddr := func(t, i int) operand.Mem {
		if layout == rowContiguous {
			if t == 0 {
				return operand.Mem{Base: a, Disp: f32 * i}
			}
			return operand.Mem{Base: a, Index: ps, Scale: 1, Disp: f32 * i}
		}
		base, base3 := bases[2*t], bases[2*t+1]
		switch i {
		case 0:
			return operand.Mem{Base: base}
		case 1:
			return operand.Mem{Base: base, Index: as, Scale: 1}
		case 2:
			return operand.Mem{Base: base, Index: as, Scale: 2}
		case 3:
			return operand.Mem{Base: base3}
		case 4:
			return operand.Mem{Base: base, Index: as, Scale: 4}
		default:
			return operand.Mem{Base: base3, Index: as, Scale: 2}
		}
	}
	advanceA := func() {
		if layout == rowContiguous {
			build.ADDQ(as, a)
			return
		}
		for _, r := range bases {
			build.ADDQ(operand.Imm(f32), r)
		}
	}
	// Row r's accumulators: columns 0-15 and 16-31.
	acc := func(r, h int) reg.VecPhysical { return zmms[2*r+h] }

	build.Comment("Warm the C rows' cache lines while the k loop runs.")
	build.MOVQ(c, walk)
	for r := 0; r < rows; r++ {
		build.PREFETCHT0(operand.Mem{Base: walk})
		build.PREFETCHT0(operand.Mem{Base: walk, Disp: 64})
		if r < rows-1 {
			build.ADDQ(ldc, walk)
		}
	}
	build.Comment(fmt.Sprintf("Zero the %d accumulators.", 2*rows))
	for r := 0; r < rows; r++ {
		for h := 0; h < 2; h++ {
			build.VPXORD(acc(r, h), acc(r, h), acc(r, h))
		}
	}

	b0, b1 := reg.Z30, reg.Z31
	step := func() {
		build.VMOVUPS(operand.Mem{Base: b}, b0)
		build.VMOVUPS(operand.Mem{Base: b, Disp: 64}, b1)
		for t := 0; t < g; t++ {
			for i := 0; i < mr; i++ {
				r := t*mr + i
				bc := reg.Z28
				if r%2 == 1 {
					bc = reg.Z29
				}
				build.VBROADCASTSS(aAddr(t, i), bc)
				build.VFMADD231PS(b0, bc, acc(r, 0))
				build.VFMADD231PS(b1, bc, acc(r, 1))
			}
		}
		advanceA()
		build.ADDQ(bks, b)
	}

	build.Comment("Main loop, unrolled by 4 k steps.")
	build.Label(name + "_loop4")
	build.CMPQ(k, operand.Imm(unroll))
	build.JL(operand.LabelRef(name + "_tail"))
	for u := 0; u < unroll; u++ {
		step()
	}
	build.SUBQ(operand.Imm(unroll), k)
	build.JMP(operand.LabelRef(name + "_loop4"))

	build.Comment("Remaining k steps, one at a time.")
	build.Label(name + "_tail")
	build.TESTQ(k, k)
	build.JE(operand.LabelRef(name + "_store"))
	step()
	build.DECQ(k)
	build.JMP(operand.LabelRef(name + "_tail"))

	build.Label(name + "_store")
	accFlag := build.Load(build.Param("acc"), reg.AL)
	build.Comment("Row by row: add the current C row when acc is set, then write;")
	build.Comment("c ends at the next tile's first row.")
	build.TESTB(accFlag, accFlag)
	build.JE(operand.LabelRef(name + "_write"))
	build.MOVQ(c, walk)
	for r := 0; r < rows; r++ {
		build.VADDPS(operand.Mem{Base: walk}, acc(r, 0), acc(r, 0))
		build.VADDPS(operand.Mem{Base: walk, Disp: 64}, acc(r, 1), acc(r, 1))
		build.ADDQ(ldc, walk)
	}
	build.Label(name + "_write")
	for r := 0; r < rows; r++ {
		build.VMOVUPS(acc(r, 0), operand.Mem{Base: c})
		build.VMOVUPS(acc(r, 1), operand.Mem{Base: c, Disp: 64})
		build.ADDQ(ldc, c)
	}

	build.Comment("Next tile: A by g panels.")
	for t := 0; t < g; t++ {
		build.ADDQ(ps, aBase)
	}
	build.DECQ(n)
	build.JNE(operand.LabelRef(name + "_tile"))
	build.VZEROUPPER()
	build.RET()
}

// zmms are the accumulators of the AVX-512 kernels, two per row of C.
var zmms = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
}
