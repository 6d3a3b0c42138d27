package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// kernelArgs are the registers a kernel keeps for all its tiles; strides
// are in bytes.
type kernelArgs struct {
	n     reg.Register // tiles left
	as    reg.Register // A's stride: aks (row-contiguous) or lda (k-contiguous)
	ps    reg.Register // from one panel of A to the next
	bks   reg.Register // from one row of B to the next
	c     reg.Register // the tile's C
	ldc   reg.Register // from one row of C to the next
	aBase reg.Register // the tile's A
}

// beginKernel declares name with the signature of its A layout and doc,
// and loads the arguments every tile uses.
func beginKernel(name string, layout aLayout, doc ...string) kernelArgs {
	sig := "func(n, k int, a *float32, aks, ps int, b *float32, bks int, c *float32, ldc int, acc bool)"
	aStride := "aks"
	if layout == kContiguous {
		sig = "func(n, k int, a *float32, lda, ps int, b *float32, bks int, c *float32, ldc int, acc bool)"
		aStride = "lda"
	}
	build.TEXT(name, build.NOSPLIT, sig)
	build.Pragma("noescape")
	build.Doc(doc...)

	var r kernelArgs
	r.n = build.Load(build.Param("n"), reg.RBX)
	r.as = build.Load(build.Param(aStride), reg.R8)
	build.SHLQ(operand.Imm(2), r.as)
	r.ps = build.Load(build.Param("ps"), reg.R13)
	build.SHLQ(operand.Imm(2), r.ps)
	r.bks = build.Load(build.Param("bks"), reg.R9)
	build.SHLQ(operand.Imm(2), r.bks)
	r.c = build.Load(build.Param("c"), reg.RDX)
	r.ldc = build.Load(build.Param("ldc"), reg.R11)
	build.SHLQ(operand.Imm(2), r.ldc)
	r.aBase = reg.R15 // free: the kernels touch no globals, so dynamic linking leaves it alone
	build.Load(build.Param("a"), r.aBase)
	return r
}

// beginTile starts the loop over tiles (label name_tile): k counts the
// steps down, a and b advance along k.
func beginTile(name string, aBase reg.Register) (k, a, b reg.Register) {
	k, a, b = reg.RCX, reg.RSI, reg.RDI
	build.Label(name + "_tile")
	build.Load(build.Param("k"), k)
	build.MOVQ(aBase, a)
	build.Load(build.Param("b"), b)
	return k, a, b
}

// kcRow addresses row i of a 6-row panel of A read in place (k-contiguous)
// from base and base3 = base + 3·lda: rows 0-5 are base, base+lda,
// base+2lda, base3, base+4lda, base3+2lda, all base+index*scale forms.
func kcRow(base, base3, lda reg.Register, i int) operand.Mem {
	switch i {
	case 0:
		return operand.Mem{Base: base}
	case 1:
		return operand.Mem{Base: base, Index: lda, Scale: 1}
	case 2:
		return operand.Mem{Base: base, Index: lda, Scale: 2}
	case 3:
		return operand.Mem{Base: base3}
	case 4:
		return operand.Mem{Base: base, Index: lda, Scale: 4}
	default:
		return operand.Mem{Base: base3, Index: lda, Scale: 2}
	}
}

// plus3 sets dst = base + 3·stride.
func plus3(base, stride, dst reg.Register) {
	build.LEAQ(operand.Mem{Base: base, Index: stride, Scale: 2}, dst)
	build.ADDQ(stride, dst)
}

// kLoop emits the loop over k around step: unroll steps at a time while k
// allows, then one at a time, then on to name_store.
func kLoop(name string, k reg.Register, step func()) {
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
}

// aDoc says where a kernel reads panel t of A.
func aDoc(layout aLayout) string {
	if layout == kContiguous {
		return "A[t][i,p] is a[t*ps + i*lda + p]"
	}
	return "A[t][i,p] is a[t*ps + i + p*aks]"
}

// kcBases sets up the base registers of g <= 2 panels of A read in place
// (k-contiguous) from a: per panel its base and base + 3·lda (see kcRow),
// panel 1 at a + ps.
func kcBases(a, lda, ps reg.Register, g int) []reg.Register {
	if g > 2 {
		panic("k-contiguous AVX-512 kernels take at most 2 panels")
	}
	a03 := reg.R10
	plus3(a, lda, a03)
	bases := []reg.Register{a, a03}
	if g == 2 {
		a1, a13 := reg.R14, reg.RAX
		build.LEAQ(operand.Mem{Base: a, Index: ps, Scale: 1}, a1)
		plus3(a1, lda, a13)
		bases = append(bases, a1, a13)
	}
	return bases
}

// warmRows prefetches the first lines 64-byte lines of each of rows rows
// of C, stepping walk down from c.
func warmRows(c, ldc, walk reg.Register, rows, lines int) {
	build.Comment("Warm the C rows' cache lines while the k loop runs.")
	build.MOVQ(c, walk)
	for r := 0; r < rows; r++ {
		for l := 0; l < lines; l++ {
			build.PREFETCHT0(operand.Mem{Base: walk, Disp: 64 * l})
		}
		if r < rows-1 {
			build.ADDQ(ldc, walk)
		}
	}
}

// endTile ends an AVX-512 kernel's tile of g panels: it stores the
// accumulators (storeRows), moves A on by g panels and loops back to
// name_tile while tiles are left.
func endTile(name string, r kernelArgs, walk reg.Register, accs [][]reg.VecPhysical, g int) {
	storeRows(name, r.c, r.ldc, walk, accs)
	build.Comment("Next tile: A by g panels.")
	for t := 0; t < g; t++ {
		build.ADDQ(r.ps, r.aBase)
	}
	build.DECQ(r.n)
	build.JNE(operand.LabelRef(name + "_tile"))
	build.VZEROUPPER()
	build.RET()
}

// storeRows writes the accumulators to C, row r's accs[r] (one zmm per 16
// columns) at c + r·ldc, first adding the current C when the acc argument
// is set; c ends at the row after the last.
func storeRows(name string, c, ldc, walk reg.Register, accs [][]reg.VecPhysical) {
	accFlag := build.Load(build.Param("acc"), reg.AL)
	build.Comment("Row by row: add the current C row when acc is set, then write;")
	build.Comment("c ends at the next tile's first row.")
	build.TESTB(accFlag, accFlag)
	build.JE(operand.LabelRef(name + "_write"))
	build.MOVQ(c, walk)
	for _, row := range accs {
		for h, z := range row {
			build.VADDPS(operand.Mem{Base: walk, Disp: 64 * h}, z, z)
		}
		build.ADDQ(ldc, walk)
	}
	build.Label(name + "_write")
	for _, row := range accs {
		for h, z := range row {
			build.VMOVUPS(z, operand.Mem{Base: c, Disp: 64 * h})
		}
		build.ADDQ(ldc, c)
	}
}
