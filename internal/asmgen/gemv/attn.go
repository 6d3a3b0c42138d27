package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// attnGroupMax is the most query heads one call of the attention kernels
// serves; a larger group (Qwen2.5-0.5B has 7 per key/value head) goes in
// several calls.
const attnGroupMax = 3

// attnScores generates attnScoresG<g>AVX512, decoding's attention scores
// for g query heads that share one key/value head: s[h·lds + j] =
// q[h·hs : (h+1)·hs]·k[j·hs : (j+1)·hs] for h < g, j < rows. Each key row
// is loaded once, 256 bytes per step, for all g heads (the query values
// come from L1), so the keys stream from memory once instead of once per
// head; two accumulators per head fold into one zmm per row, and four
// rows' sums reduce to four floats at once (storeFourRows512). It also
// prefetches each key row's value row, which attnValues reads once the
// softmax is done: the values then come from the caches instead of
// starting a second stream from memory (+0.9-3.2% per decoded SmolLM token
// at 86-90 GB/s, paired; neutral at 50 GB/s). The keys are prefetched
// into the caches (T0), not non-temporally as the weights are: with more
// than attnGroupMax query heads per key/value head (7 in Qwen2.5-0.5B) a
// segment's keys are read again for the next heads. Non-temporal keys
// gained SmolLM-135M 0.2-0.3% and GPT-2 -0.1..+1.5% (one pass each) and
// were not measured on such a model.
func attnScores(g int) {
	name := fmt.Sprintf("attnScoresG%dAVX512", g)
	build.TEXT(name, build.NOSPLIT, "func(s []float32, lds int, k []float32, q []float32, rows int, hs int, v []float32)")
	build.Pragma("noescape")
	build.Doc(name+" writes s[h·lds + j] = q[h·hs:(h+1)·hs]·k[j·hs:(j+1)·hs]",
		fmt.Sprintf("for h < %d and j < rows, and prefetches v[j·hs:(j+1)·hs], the value rows", g),
		"read next. rows must be a positive multiple of 4, hs a positive multiple of",
		"64, and the slices long enough; the Go caller checks.")
	sp := build.Load(build.Param("s").Base(), build.GP64())
	lds := loadBytes(build.Param("lds"))
	kp := build.Load(build.Param("k").Base(), build.GP64())
	delta := build.Load(build.Param("v").Base(), build.GP64()) // v - k: the value row beside each key row
	build.SUBQ(kp, delta)
	qp := build.Load(build.Param("q").Base(), build.GP64())
	rows := build.Load(build.Param("rows"), build.GP64())
	hsb := loadBytes(build.Param("hs")) // bytes per row
	send := build.GP64()
	build.LEAQ(operand.Mem{Base: sp, Index: rows, Scale: 4}, send)
	acc := make([][2]reg.VecVirtual, g)
	for h := range acc {
		acc[h] = [2]reg.VecVirtual{build.ZMM(), build.ZMM()}
	}
	row := make([][4]reg.VecVirtual, g) // per head, the four rows' sums
	for h := range row {
		for j := range row[h] {
			row[h][j] = build.ZMM()
		}
	}
	t := []reg.VecVirtual{build.ZMM(), build.ZMM(), build.ZMM(), build.ZMM()}
	col := build.GP64()
	build.Label("group")
	build.CMPQ(sp, send)
	build.JAE(operand.LabelRef("done"))
	for j := 0; j < 4; j++ {
		for h := range acc {
			build.VPXORD(acc[h][0], acc[h][0], acc[h][0])
			build.VPXORD(acc[h][1], acc[h][1], acc[h][1])
		}
		build.XORQ(col, col)
		build.Label(fmt.Sprintf("col%d", j))
		for l := 0; l < 4; l++ {
			build.PREFETCHT0(operand.Mem{Base: kp, Disp: streamAhead + 64*l})
			build.PREFETCHT0(operand.Mem{Base: kp, Index: delta, Scale: 1, Disp: 64 * l})
		}
		for i := range t {
			build.VMOVUPS(operand.Mem{Base: kp, Disp: 64 * i}, t[i])
		}
		for h := range acc {
			for i := range t {
				build.VFMADD231PS(operand.Mem{Base: qp, Index: col, Scale: 1, Disp: 64 * i}, t[i], acc[h][i%2])
			}
			if h+1 < len(acc) {
				build.ADDQ(hsb, col) // next head's query, same columns
			}
		}
		if g > 1 {
			// Back to the first head, then on to the next 64 columns.
			back := build.GP64()
			build.IMUL3Q(operand.Imm(uint64(g-1)), hsb, back)
			build.SUBQ(back, col)
		}
		build.ADDQ(operand.U32(256), kp)
		build.ADDQ(operand.U32(256), col)
		build.CMPQ(col, hsb)
		build.JB(operand.LabelRef(fmt.Sprintf("col%d", j)))
		for h := range acc {
			build.VADDPS(acc[h][1], acc[h][0], row[h][j])
		}
	}
	out := build.GP64()
	build.MOVQ(sp, out)
	for h := range row {
		storeFourRows512(row[h][0], row[h][1], row[h][2], row[h][3], out)
		if h+1 < len(row) {
			build.ADDQ(lds, out)
		}
	}
	build.ADDQ(operand.U8(16), sp)
	build.JMP(operand.LabelRef("group"))
	build.Label("done")
	build.VZEROUPPER()
	build.RET()
}

// attnValues generates attnValuesG<g>AVX512, the other half of decoding's
// attention for g query heads sharing a key/value head: o[h·ldo + c] +=
// Σ_j p[h·ldp + j]·v[j·ldv + c] for h < g, c < 64, j < rows. Each value
// row's 64 columns are loaded once for all g heads, which keep their 64
// sums in four zmm each.
func attnValues(g int) {
	name := fmt.Sprintf("attnValuesG%dAVX512", g)
	build.TEXT(name, build.NOSPLIT, "func(o []float32, ldo int, p []float32, ldp int, v []float32, ldv int, rows int)")
	build.Pragma("noescape")
	build.Doc(name+" adds Σ_j p[h·ldp + j]·v[j·ldv : j·ldv+64] to o[h·ldo : h·ldo+64]",
		fmt.Sprintf("for h < %d and j < rows. rows must be positive, and the slices long", g),
		"enough; the Go caller checks.")
	op := build.Load(build.Param("o").Base(), build.GP64())
	ldo := loadBytes(build.Param("ldo"))
	pp := build.Load(build.Param("p").Base(), build.GP64())
	ldp := loadBytes(build.Param("ldp"))
	vp := build.Load(build.Param("v").Base(), build.GP64())
	ldv := loadBytes(build.Param("ldv"))
	rows := build.Load(build.Param("rows"), build.GP64())
	pend := build.GP64()
	build.LEAQ(operand.Mem{Base: pp, Index: rows, Scale: 4}, pend)
	acc := make([][4]reg.VecVirtual, g)
	for h := range acc {
		for i := range acc[h] {
			acc[h][i] = build.ZMM()
			build.VPXORD(acc[h][i], acc[h][i], acc[h][i])
		}
	}
	t := []reg.VecVirtual{build.ZMM(), build.ZMM(), build.ZMM(), build.ZMM()}
	pj := build.ZMM()
	ph := build.GP64()
	build.Label("row")
	for l := 0; l < 4; l++ {
		build.PREFETCHT0(operand.Mem{Base: vp, Disp: streamAhead + 64*l})
	}
	for i := range t {
		build.VMOVUPS(operand.Mem{Base: vp, Disp: 64 * i}, t[i])
	}
	build.MOVQ(pp, ph)
	for h := range acc {
		build.VBROADCASTSS(operand.Mem{Base: ph}, pj)
		for i := range t {
			build.VFMADD231PS(t[i], pj, acc[h][i])
		}
		if h+1 < len(acc) {
			build.ADDQ(ldp, ph)
		}
	}
	build.ADDQ(ldv, vp)
	build.ADDQ(operand.U8(4), pp)
	build.CMPQ(pp, pend)
	build.JB(operand.LabelRef("row"))
	for h := range acc {
		for i := range acc[h] {
			build.VADDPS(operand.Mem{Base: op, Disp: 64 * i}, acc[h][i], acc[h][i])
			build.VMOVUPS(acc[h][i], operand.Mem{Base: op, Disp: 64 * i})
		}
		if h+1 < len(acc) {
			build.ADDQ(ldo, op)
		}
	}
	build.VZEROUPPER()
	build.RET()
}

// storeFourRows512 reduces four rows' zmm sums r0..r3 (sixteen partial
// sums each; all four are overwritten) to four floats and stores them at
// y, in AVX-512F instructions only: with many heads the sums live in
// zmm16-31, which the VEX-encoded VHADDPS of storeFourRows cannot name.
func storeFourRows512(r0, r1, r2, r3 reg.VecVirtual, y reg.Register) {
	t := build.ZMM()
	// Per 128-bit lane: r0 and r1's pairs, then r2 and r3's.
	build.VUNPCKHPS(r1, r0, t)
	build.VUNPCKLPS(r1, r0, r0)
	build.VADDPS(t, r0, r0)
	build.VUNPCKHPS(r3, r2, t)
	build.VUNPCKLPS(r3, r2, r2)
	build.VADDPS(t, r2, r2)
	// Per lane: the four rows' partial sums, in order.
	build.VUNPCKHPD(r2, r0, t)
	build.VUNPCKLPD(r2, r0, r0)
	build.VADDPS(t, r0, r0)
	// Add the four lanes: swap halves, then neighbours.
	build.VSHUFF32X4(operand.U8(0x4e), r0, r0, t)
	build.VADDPS(t, r0, r0)
	build.VSHUFF32X4(operand.U8(0xb1), r0, r0, t)
	build.VADDPS(t, r0, r0)
	build.VEXTRACTF32X4(operand.U8(0), r0, operand.Mem{Base: y})
}
