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
		fmt.Sprintf("%s computes n >= 1 groups of %d 6x16 tiles (%d rows of C) c = a·b", name, g, rows),
		"over k >= 1 steps with AVX-512, or adds them to c when acc is set.",
		aDoc+"; B[p,j] is b[p*bks + j];",
		"C[i,j] is c[i*ldc + j]; group s starts at tile s*"+fmt.Sprint(g)+".")

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
	build.Label(name + "_group")
	build.Load(build.Param("k"), k)
	build.MOVQ(aBase, a)
	build.Load(build.Param("b"), b)

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
			build.LEAQ(operand.Mem{Base: a, Index: ps, Scale: 2}, a3)
			build.ADDQ(ps, a3)
		}
	case kContiguous:
		if g != 2 {
			panic("k-contiguous AVX-512 kernel needs g = 2")
		}
		a1, a03, a13 := reg.R14, reg.R10, reg.RAX
		build.LEAQ(operand.Mem{Base: a, Index: ps, Scale: 1}, a1)
		build.LEAQ(operand.Mem{Base: a, Index: as, Scale: 2}, a03)
		build.ADDQ(as, a03)
		build.LEAQ(operand.Mem{Base: a1, Index: as, Scale: 2}, a13)
		build.ADDQ(as, a13)
		bases = []reg.Register{a, a03, a1, a13}
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

	build.Comment("Warm the C rows' cache lines while the k loop runs.")
	build.MOVQ(c, walk)
	for r := 0; r < rows; r++ {
		build.PREFETCHT0(operand.Mem{Base: walk})
		if r < rows-1 {
			build.ADDQ(ldc, walk)
		}
	}
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
	build.Comment("c ends at the next group's first row.")
	build.TESTB(accFlag, accFlag)
	build.JE(operand.LabelRef(name + "_write"))
	build.MOVQ(c, walk)
	for r := 0; r < rows; r++ {
		build.VADDPS(operand.Mem{Base: walk}, acc(r), acc(r))
		build.ADDQ(ldc, walk)
	}
	build.Label(name + "_write")
	for r := 0; r < rows; r++ {
		build.VMOVUPS(acc(r), operand.Mem{Base: c})
		build.ADDQ(ldc, c)
	}

	build.Comment("Next group: A by g panels.")
	for t := 0; t < g; t++ {
		build.ADDQ(ps, aBase)
	}
	build.DECQ(n)
	build.JNE(operand.LabelRef(name + "_group"))
	build.VZEROUPPER()
	build.RET()
}
