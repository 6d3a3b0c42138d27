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
	rows := mr * g
	r := beginKernel(name, layout,
		fmt.Sprintf("%s computes n >= 1 tiles of %dx%d (%d panels of 6 rows each) c = a·b", name, rows, nr512, g),
		"over k >= 1 steps with AVX-512, or adds them to c when acc is set.",
		aDoc(layout)+" for panel t;",
		"B[p,j] is b[p*bks + j]; C[i,j] is c[i*ldc + j].")

	as, ps, bks, c, ldc, aBase := r.as, r.ps, r.bks, r.c, r.ldc, r.aBase

	walk := reg.R12 // steps down C's rows
	k, a, b := beginTile(name, aBase)

	// Base registers for A. Row-contiguous: panel t row i at a + t*ps + 4i.
	// k-contiguous: panel t row i at a + t*ps + i*lda, rows 0-5 from the
	// panel's base and base+3lda as in the AVX2 kernel.
	var bases []reg.Register // k-contiguous, per panel: base, base+3lda
	if layout == kContiguous {
		bases = kcBases(a, as, ps, g)
	}
	aAddr := func(t, i int) operand.Mem {
		if layout == rowContiguous {
			if t == 0 {
				return operand.Mem{Base: a, Disp: f32 * i}
			}
			return operand.Mem{Base: a, Index: ps, Scale: 1, Disp: f32 * i}
		}
		return kcRow(bases[2*t], bases[2*t+1], as, i)
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

	warmRows(c, ldc, walk, rows, 2)
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

	kLoop(name, k, step)
	rowAccs := make([][]reg.VecPhysical, rows)
	for r := range rowAccs {
		rowAccs[r] = []reg.VecPhysical{acc(r, 0), acc(r, 1)}
	}
	endTile(name, r, walk, rowAccs, g)
}

// zmms are the accumulators of the AVX-512 kernels, two per row of C.
var zmms = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
}
