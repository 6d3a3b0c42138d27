package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// For B panels whose columns past the 16th are padding (C 16 or fewer
// columns wide: a LoRA rank), the 16-column AVX-512 kernels compute 6x16
// tiles, a group of g tiles at a time: one zmm holds
// a whole row of 16 B values, so a tile's 6 rows need only 6 accumulators,
// and g tiles stacked down C share each B load. Per k step a kernel loads
// one zmm of B and issues 6g FMAs, each broadcasting its A value from
// memory ({1to16}). With g = 4, 24 of the 32 zmm registers accumulate;
// 24 independent FMAs cover the latency of both FMA pipes. Measured on a
// Zen 5 core with A and B in L1: 247 GFLOP/s for g = 4, 237 for g = 2,
// against 135 for the AVX2 kernel and an FMA peak of 270.
//
// The kernel's n counts groups; the Go wrapper runs leftover tiles on the
// AVX2 kernel. The k-contiguous layout needs two base registers per tile,
// so it comes with g = 2 only.

// kernel512x16 generates name, a kernel on groups of g tiles in layout.
func kernel512x16(name string, layout aLayout, g int) {
	rows := mr * g
	r := beginKernel(name, layout,
		fmt.Sprintf("%s computes n >= 1 groups of %d 6x16 tiles (%d rows of C) c = a·b", name, g, rows),
		"over k >= 1 steps with AVX-512, or adds them to c when acc is set.",
		aDoc(layout)+"; B[p,j] is b[p*bks + j];",
		"C[i,j] is c[i*ldc + j]; group s starts at tile s*"+fmt.Sprint(g)+".")

	as, ps, bks, c, ldc, aBase := r.as, r.ps, r.bks, r.c, r.ldc, r.aBase

	walk := reg.R12 // steps down C's rows
	k, a, b := beginTile(name, aBase)

	// Base registers for A. Row-contiguous: tile t row i at
	// a + t*ps + 4i; tiles 0-3 are a, a+ps, a+2ps, a3 = a+3ps.
	// k-contiguous (g = 2): tile t row i at a + t*ps + i*lda, rows 0-5 of
	// a tile from its base and base+3lda as in the AVX2 kernel.
	var bases []reg.Register // per tile: base (and, k-contiguous, base+3lda)
	var a3 reg.Register
	switch layout {
	case rowContiguous:
		if g == 4 {
			a3 = reg.R10
			plus3(a, ps, a3)
		}
	case kContiguous:
		bases = kcBases(a, as, ps, g)
	}
	aAddr := func(t, i int) operand.Mem {
		if layout == rowContiguous {
			d := f32 * i
			switch t {
			case 0:
				return operand.Mem{Base: a, Disp: d}
			case 1:
				return operand.Mem{Base: a, Index: ps, Scale: 1, Disp: d}
			case 2:
				return operand.Mem{Base: a, Index: ps, Scale: 2, Disp: d}
			default:
				return operand.Mem{Base: a3, Disp: d}
			}
		}
		return kcRow(bases[2*t], bases[2*t+1], as, i)
	}
	advanceA := func() {
		if layout == rowContiguous {
			build.ADDQ(as, a)
			if a3 != nil {
				build.ADDQ(as, a3)
			}
			return
		}
		for _, r := range bases {
			build.ADDQ(operand.Imm(f32), r)
		}
	}
	acc := func(r int) reg.VecPhysical { return zmms[r] }

	warmRows(c, ldc, walk, rows, 1)
	build.Comment(fmt.Sprintf("Zero the %d accumulators.", rows))
	for r := 0; r < rows; r++ {
		build.VPXORD(acc(r), acc(r), acc(r))
	}

	bv := reg.Z30
	step := func() {
		build.VMOVUPS(operand.Mem{Base: b}, bv)
		for t := 0; t < g; t++ {
			for i := 0; i < mr; i++ {
				build.VFMADD231PS_BCST(aAddr(t, i), bv, acc(t*mr+i))
			}
		}
		advanceA()
		build.ADDQ(bks, b)
	}

	kLoop(name, k, step)
	rowAccs := make([][]reg.VecPhysical, rows)
	for r := range rowAccs {
		rowAccs[r] = []reg.VecPhysical{acc(r)}
	}
	endTile(name, r, walk, rowAccs, g)
}
