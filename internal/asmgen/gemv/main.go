// Command gemv generates kernels/gemv_amd64.s: the AVX2/FMA and AVX-512
// matrix-vector products and attention kernels that decoding spends its
// time in, and the FMA loop that measures
// the machine's float32 peak. Run it through `go generate ./kernels/`.
//
// gemvRowsAVX2 computes y[o] = Σ_i w[o·ldw + i]·x[i] for every o in
// [0, len(y)), i < len(x), four rows of w at a time: per step of 16
// columns it loads 16 values of x once into two ymm registers and issues
// 8 FMAs against the four rows (8 accumulators, two per row, so the adds
// of one row do not wait on each other). A group's four accumulator pairs
// are summed and reduced horizontally with VHADDPS into one xmm of four
// sums, stored at once. Decoding is bound by reading w, so the point is to
// keep the loads streaming: 4 rows walked together is 4 read streams.
//
// streamSumAVX2 sums a float32 slice with 8 accumulators, 256 bytes per
// step: the cheapest possible work per byte, so with every thread on its
// own part of a buffer far larger than the caches its rate is the memory's
// streaming-read bandwidth, the bound of decoding.
//
// attnScoresG<g>AVX512 and attnValuesG<g>AVX512 (attn.go) are decoding's
// attention for g query heads that share a key/value head, each cache row
// read once for all of them.
//
// fmaPeakAVX2 runs n iterations of 12 independent VFMADD231PS on ymm
// registers (12 chains hide the FMA latency on two FMA pipes): 192 float32
// FLOPs per iteration, and nothing else, so its rate is the core's fp32
// peak. fmaPeakAVX512 is the same on zmm registers (384 FLOPs), the peak of
// a CPU with AVX-512, where the GEMM runs its AVX-512 kernel.
package main

import (
	"flag"
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	flag.Parse()
	build.ConstraintExpr("amd64,!purego")
	gemvRows()
	gemvRowsSeq512()
	axpyRows()
	fmaPeak()
	streamSum()
	for g := 1; g <= attnGroupMax; g++ {
		attnScores(g)
		attnValues(g)
	}
	build.Generate()
}

func gemvRows() {
	build.TEXT("gemvRowsAVX2", build.NOSPLIT, "func(y []float32, w []float32, x []float32, ldw int)")
	build.Pragma("noescape")
	build.Doc("gemvRowsAVX2 writes y[o] = w[o·ldw : o·ldw+in]·x for o < len(y), in = len(x).",
		"len(y) must be a multiple of 4, len(x) a positive multiple of 16, ldw >= len(x)",
		"and len(w) at least (len(y)-1)·ldw + len(x); the Go caller checks.")
	yp := build.Load(build.Param("y").Base(), build.GP64())
	rows := build.Load(build.Param("y").Len(), build.GP64())
	wp := build.Load(build.Param("w").Base(), build.GP64())
	xp := build.Load(build.Param("x").Base(), build.GP64())
	n := build.Load(build.Param("x").Len(), build.GP64())
	stride := loadBytes(build.Param("ldw")) // bytes from row to row
	yend := build.GP64()
	build.LEAQ(operand.Mem{Base: yp, Index: rows, Scale: 4}, yend)

	r := []reg.GPVirtual{build.GP64(), build.GP64(), build.GP64(), build.GP64()}
	acc := make([]reg.VecVirtual, 8)
	for i := range acc {
		acc[i] = build.YMM()
	}
	x0, x1 := build.YMM(), build.YMM()
	i := build.GP64()

	build.Label("group")
	build.CMPQ(yp, yend)
	build.JAE(operand.LabelRef("done"))
	build.MOVQ(wp, r[0])
	for j := 1; j < 4; j++ {
		build.LEAQ(operand.Mem{Base: r[j-1], Index: stride, Scale: 1}, r[j])
	}
	for _, a := range acc {
		build.VXORPS(a, a, a)
	}
	// Fetch the next group's rows while this one is summed, one line per
	// row per step (the line each row's step consumes), following the rows
	// wherever they lie: attention's key rows can be strided (a head's 256
	// bytes every 768 in SmolLM's (T, heads·head_dim) layout, as training
	// keeps them), which the hardware prefetcher does not follow. On a cold cache this made one decoding
	// step's attention (9 heads over 320 keys) 10% faster. T0, not non-temporal
	// as the AVX-512 kernel's (see streamSum): on a CPU without AVX-512 this
	// kernel also reads a key/value head's keys again for each query head
	// of its group.
	next, next3 := build.GP64(), build.GP64()
	build.LEAQ(operand.Mem{Base: r[3], Index: stride, Scale: 1}, next)
	build.LEAQ(operand.Mem{Base: next, Index: stride, Scale: 2}, next3)
	build.ADDQ(stride, next3)
	build.XORQ(i, i)
	build.Label("col")
	build.PREFETCHT0(operand.Mem{Base: next})
	build.PREFETCHT0(operand.Mem{Base: next, Index: stride, Scale: 1})
	build.PREFETCHT0(operand.Mem{Base: next, Index: stride, Scale: 2})
	build.PREFETCHT0(operand.Mem{Base: next3})
	build.ADDQ(operand.U8(64), next)
	build.ADDQ(operand.U8(64), next3)
	build.VMOVUPS(operand.Mem{Base: xp, Index: i, Scale: 4}, x0)
	build.VMOVUPS(operand.Mem{Base: xp, Index: i, Scale: 4, Disp: 32}, x1)
	for j := 0; j < 4; j++ {
		build.VFMADD231PS(operand.Mem{Base: r[j], Index: i, Scale: 4}, x0, acc[2*j])
		build.VFMADD231PS(operand.Mem{Base: r[j], Index: i, Scale: 4, Disp: 32}, x1, acc[2*j+1])
	}
	build.ADDQ(operand.U8(16), i)
	build.CMPQ(i, n)
	build.JB(operand.LabelRef("col"))

	// Sum each row's pair, then reduce four rows to four floats.
	for j := 0; j < 4; j++ {
		build.VADDPS(acc[2*j+1], acc[2*j], acc[2*j])
	}
	storeFourRows(acc[0], acc[2], acc[4], acc[6], yp)

	build.ADDQ(operand.U8(16), yp)
	build.LEAQ(operand.Mem{Base: r[3], Index: stride, Scale: 1}, wp)
	build.JMP(operand.LabelRef("group"))
	build.Label("done")
	build.VZEROUPPER()
	build.RET()
}

// storeFourRows reduces four rows' ymm sums r0..r3 (eight partial sums
// each; r0 and r2 are overwritten) to four floats and stores them at y.
func storeFourRows(r0, r1, r2, r3 reg.VecVirtual, y reg.Register) {
	build.VHADDPS(r1, r0, r0) // per lane: row0 pairs, row1 pairs
	build.VHADDPS(r3, r2, r2) // row2, row3
	build.VHADDPS(r2, r0, r0) // per lane: row0..row3 partial sums
	hi := build.XMM()
	build.VEXTRACTF128(operand.U8(1), r0, hi)
	lo := r0.AsX()
	build.VADDPS(hi, lo, lo)
	build.VMOVUPS(lo, operand.Mem{Base: y})
}

// gemvRowsSeq512 generates gemvRowsSeqAVX512 and gemvRowsSeq4AVX512, the
// matrix-vector products for a w whose rows are contiguous (ldw =
// len(x)), as weights are, on a CPU with AVX-512. Both walk w in address
// order, one row after another, 256 bytes per step (four zmm loads of x,
// four FMAs reading w), and prefetch gemvAhead bytes ahead (seqKernel.row). The
// loads form one sequential stream, and with half the instructions per
// byte of the AVX2 kernel the out-of-order window reaches further ahead:
// on SmolLM-135M's layers it read 0.97 of the streaming-read bandwidth
// where the four-row AVX2 kernel read 0.93. x, read again for every row,
// stays in L1.
//
// They differ in how rows end. gemvRowsSeqAVX512 runs every row through
// one loop and reduces it to its own scalar; gemvRowsSeq4AVX512 has a copy
// of the loop for each of four rows and reduces the four together
// (storeFourRows). On 256 MiB of weights, alternating in one process, the
// one loop read 2-5% faster for rows of 576 to 1536 floats (one thread:
// 0.96-0.99 of the probe against 0.90-0.96) and the four loops 1.5-4%
// faster for rows of 4864 (one thread: 0.96-0.98 against 0.93-0.94);
// gemvRowsFast picks by row length (gemvLongRow).
func gemvRowsSeq512() {
	build.TEXT("gemvRowsSeqAVX512", build.NOSPLIT, "func(y []float32, w []float32, x []float32)")
	build.Pragma("noescape")
	build.Doc("gemvRowsSeqAVX512 writes y[o] = w[o·in : o·in+in]·x for o < len(y), in = len(x).",
		"len(x) must be a positive multiple of 64 and len(w) at least len(y)·len(x);",
		"the Go caller checks.")
	k := newSeqKernel()
	build.Label("seq_row")
	build.CMPQ(k.yp, k.yend)
	build.JAE(operand.LabelRef("seq_done"))
	sum := k.row("seq_col")
	x4 := build.XMM()
	build.VEXTRACTF128(operand.U8(1), sum, x4)
	build.VADDPS(x4, sum.AsX(), x4)
	build.VHADDPS(x4, x4, x4)
	build.VHADDPS(x4, x4, x4)
	build.VMOVSS(x4, operand.Mem{Base: k.yp})
	build.ADDQ(operand.U8(4), k.yp)
	build.JMP(operand.LabelRef("seq_row"))
	build.Label("seq_done")
	build.VZEROUPPER()
	build.RET()

	build.TEXT("gemvRowsSeq4AVX512", build.NOSPLIT, "func(y []float32, w []float32, x []float32)")
	build.Pragma("noescape")
	build.Doc("gemvRowsSeq4AVX512 is gemvRowsSeqAVX512 four rows at a time: len(y) must",
		"also be a multiple of 4.")
	k = newSeqKernel()
	build.Label("seq4_group")
	build.CMPQ(k.yp, k.yend)
	build.JAE(operand.LabelRef("seq4_done"))
	var rows [4]reg.VecVirtual
	for j := range rows {
		rows[j] = k.row(fmt.Sprintf("seq4_col%d", j))
	}
	storeFourRows(rows[0], rows[1], rows[2], rows[3], k.yp)
	build.ADDQ(operand.U8(16), k.yp)
	build.JMP(operand.LabelRef("seq4_group"))
	build.Label("seq4_done")
	build.VZEROUPPER()
	build.RET()
}

// seqKernel holds the registers of a gemvRowsSeq kernel.
type seqKernel struct {
	yp, yend, wp, xp, xend, xi reg.Register
	acc, t                     []reg.VecVirtual
}

// newSeqKernel loads the parameters (y, w, x) of a gemvRowsSeq kernel.
func newSeqKernel() *seqKernel {
	k := &seqKernel{
		yp: build.Load(build.Param("y").Base(), build.GP64()),
		wp: build.Load(build.Param("w").Base(), build.GP64()),
		xp: build.Load(build.Param("x").Base(), build.GP64()),
		xi: build.GP64(), xend: build.GP64(), yend: build.GP64(),
	}
	rows := build.Load(build.Param("y").Len(), build.GP64())
	n := loadBytes(build.Param("x").Len())
	build.LEAQ(operand.Mem{Base: k.xp, Index: n, Scale: 1}, k.xend)
	build.LEAQ(operand.Mem{Base: k.yp, Index: rows, Scale: 4}, k.yend)
	for range 4 {
		k.acc = append(k.acc, build.ZMM())
		k.t = append(k.t, build.ZMM())
	}
	return k
}

// row emits the loop over one row of w, labelled label, which leaves wp at
// the next row, and returns a new ymm holding the row's eight partial sums.
func (k *seqKernel) row(label string) reg.VecVirtual {
	for _, a := range k.acc {
		build.VPXORD(a, a, a)
	}
	build.MOVQ(k.xp, k.xi)
	build.Label(label)
	for i := range 4 {
		build.PREFETCHNTA(operand.Mem{Base: k.wp, Disp: gemvAhead + 64*i})
	}
	for i, a := range k.acc {
		build.VMOVUPS(operand.Mem{Base: k.xi, Disp: 64 * i}, k.t[i])
		build.VFMADD231PS(operand.Mem{Base: k.wp, Disp: 64 * i}, k.t[i], a)
	}
	build.ADDQ(operand.U32(256), k.wp)
	build.ADDQ(operand.U32(256), k.xi)
	build.CMPQ(k.xi, k.xend)
	build.JB(operand.LabelRef(label))
	build.VADDPS(k.acc[2], k.acc[0], k.acc[0])
	build.VADDPS(k.acc[3], k.acc[1], k.acc[1])
	build.VADDPS(k.acc[1], k.acc[0], k.acc[0])
	sum := build.YMM()
	build.VEXTRACTF64X4(operand.U8(1), k.acc[0], sum)
	build.VADDPS(sum, k.acc[0].AsY(), sum)
	return sum
}

// axpyRows generates axpyRowsAVX2: y += Σ_j p[j]·v[j·ldv : j·ldv+len(y)]
// for j < len(p), the probability-weighted sum of value rows one query
// (decoding) takes from the KV cache, without the packing a one-row GEMM
// does. The columns of y go in blocks of 64, 32 and 8 floats, each held in
// 8, 4 or 1 accumulators while every row of v passes.
func axpyRows() {
	build.TEXT("axpyRowsAVX2", build.NOSPLIT, "func(y []float32, p []float32, v []float32, ldv int)")
	build.Pragma("noescape")
	build.Doc("axpyRowsAVX2 adds Σ_j p[j]·v[j·ldv : j·ldv+len(y)] to y for j < len(p).",
		"len(y) must be a multiple of 8, ldv >= len(y), len(p) >= 1 and len(v) at",
		"least (len(p)-1)·ldv + len(y); the Go caller checks.")
	yp := build.Load(build.Param("y").Base(), build.GP64())
	ny := build.Load(build.Param("y").Len(), build.GP64())
	pp := build.Load(build.Param("p").Base(), build.GP64())
	np := build.Load(build.Param("p").Len(), build.GP64())
	vp := build.Load(build.Param("v").Base(), build.GP64())
	stride := loadBytes(build.Param("ldv"))
	yend := build.GP64()
	build.LEAQ(operand.Mem{Base: yp, Index: ny, Scale: 4}, yend)
	pend := build.GP64()
	build.LEAQ(operand.Mem{Base: pp, Index: np, Scale: 4}, pend)
	acc := make([]reg.VecVirtual, 8)
	for i := range acc {
		acc[i] = build.YMM()
	}
	pj := build.YMM()
	row, pk := build.GP64(), build.GP64()
	// Value rows are strided like key rows: fetch the row axpyAhead rows
	// on while this one is added.
	ahead := build.GP64()
	build.IMUL3Q(operand.Imm(axpyAhead), stride, ahead)
	widths := []int{8, 4, 1}
	for k, w := range widths {
		blk := fmt.Sprintf("blk%d", w)
		build.Label(blk)
		// Is there a block of 8·w floats left?
		left := build.GP64()
		build.MOVQ(yend, left)
		build.SUBQ(yp, left)
		build.CMPQ(left, operand.U32(32*w))
		if k == len(widths)-1 {
			build.JB(operand.LabelRef("done"))
		} else {
			build.JB(operand.LabelRef(fmt.Sprintf("blk%d", widths[k+1])))
		}
		for i := 0; i < w; i++ {
			build.VMOVUPS(operand.Mem{Base: yp, Disp: 32 * i}, acc[i])
		}
		build.MOVQ(vp, row)
		build.MOVQ(pp, pk)
		build.Label(blk + "row")
		for l := 0; l < (32*w+63)/64; l++ {
			build.PREFETCHT0(operand.Mem{Base: row, Index: ahead, Scale: 1, Disp: 64 * l})
		}
		build.VBROADCASTSS(operand.Mem{Base: pk}, pj)
		for i := 0; i < w; i++ {
			build.VFMADD231PS(operand.Mem{Base: row, Disp: 32 * i}, pj, acc[i])
		}
		build.ADDQ(stride, row)
		build.ADDQ(operand.U8(4), pk)
		build.CMPQ(pk, pend)
		build.JB(operand.LabelRef(blk + "row"))
		for i := 0; i < w; i++ {
			build.VMOVUPS(acc[i], operand.Mem{Base: yp, Disp: 32 * i})
		}
		build.ADDQ(operand.U32(32*w), yp)
		build.ADDQ(operand.U32(32*w), vp)
		build.JMP(operand.LabelRef(blk))
	}
	build.Label("done")
	build.VZEROUPPER()
	build.RET()
}

func fmaPeak() {
	fmaPeakLoop("fmaPeakAVX2", 8, build.YMM)
	fmaPeakLoop("fmaPeakAVX512", 16, build.ZMM)
}

// fmaPeakLoop generates name: n iterations of 12 independent FMAs on
// vectors of lanes float32 from vec.
func fmaPeakLoop(name string, lanes int, vec func() reg.VecVirtual) {
	build.TEXT(name, build.NOSPLIT, "func(n int)")
	build.Doc(fmt.Sprintf("%s runs n iterations of 12 independent %d-wide FMAs (%d FLOPs each).", name, lanes, 12*lanes*2))
	n := build.Load(build.Param("n"), build.GP64())
	zero := func(v reg.VecVirtual) {
		if lanes == 16 {
			build.VPXORD(v, v, v)
		} else {
			build.VXORPS(v, v, v)
		}
	}
	acc := make([]reg.VecVirtual, 12)
	for i := range acc {
		acc[i] = vec()
		zero(acc[i])
	}
	a, b := vec(), vec()
	zero(a)
	zero(b)
	build.Label(name + "_loop")
	build.TESTQ(n, n)
	build.JZ(operand.LabelRef(name + "_done"))
	for _, c := range acc {
		build.VFMADD231PS(a, b, c)
	}
	build.DECQ(n)
	build.JMP(operand.LabelRef(name + "_loop"))
	build.Label(name + "_done")
	build.VZEROUPPER()
	build.RET()
}

// loadBytes loads the integer parameter p, a count of float32s, as a count
// of bytes.
func loadBytes(p gotypes.Component) reg.Register {
	r := build.Load(p, build.GP64())
	build.SHLQ(operand.U8(2), r)
	return r
}

// axpyAhead is how many rows ahead axpyRowsAVX2 prefetches.
const axpyAhead = 8

// streamAhead is how far ahead of its loads streamSum prefetches, in bytes.
const streamAhead = 2048

// gemvAhead is how far ahead gemvRowsSeqAVX512 prefetches, in bytes. With
// the non-temporal hint, 3 KiB beat 2 KiB per decoded token, paired in one
// process at 79-83 GB/s: SmolLM-135M +1.2-2.2%, GPT-2 +2.1-2.8%,
// Qwen2.5-0.5B +3.4-5.4% (4 KiB: -1.2..+0.8%, +1.4-1.8%, +3.6-4.6%; 1 KiB
// 4-6% slower). streamSum reads the same at 2 and 3 KiB.
const gemvAhead = 3072

// streamSum generates streamSumAVX2, the bandwidth probe's loop. It and
// gemvRowsSeqAVX512, which streams whole weight matrices, prefetch with
// the non-temporal hint (PREFETCHNTA): a weight is read once per decoded
// token and used again only hundreds of megabytes later. PREFETCHT0 also
// fills L2, and an AMD L3 takes in every line L2 evicts, so the stream
// evicted the activations and the KV cache and cost writes into L3
// besides; the likely reason for the gain. Paired per decoded token in
// one process at 81-85 GB/s: SmolLM-135M 0.5-1.0% faster, GPT-2 2.2-5.3%,
// Qwen2.5-0.5B 2.1-4.3%; at 50-53 GB/s 0.4-2.3%. The probe reads up to 3%
// faster too, and decoding is held to it.
func streamSum() {
	build.TEXT("streamSumAVX2", build.NOSPLIT, "func(x []float32) float32")
	build.Pragma("noescape")
	build.Doc("streamSumAVX2 returns the sum of x, len(x) a multiple of 64.")
	p := build.Load(build.Param("x").Base(), build.GP64())
	n := build.Load(build.Param("x").Len(), build.GP64())
	end := build.GP64()
	build.LEAQ(operand.Mem{Base: p, Index: n, Scale: 4}, end)
	acc := make([]reg.VecVirtual, 8)
	for i := range acc {
		acc[i] = build.YMM()
		build.VXORPS(acc[i], acc[i], acc[i])
	}
	build.Label("loop")
	build.CMPQ(p, end)
	build.JAE(operand.LabelRef("done"))
	for k := 0; k < 4; k++ {
		build.PREFETCHNTA(operand.Mem{Base: p, Disp: streamAhead + 64*k})
	}
	for i, a := range acc {
		build.VADDPS(operand.Mem{Base: p, Disp: 32 * i}, a, a)
	}
	build.ADDQ(operand.U32(256), p)
	build.JMP(operand.LabelRef("loop"))
	build.Label("done")
	for w := 4; w >= 1; w /= 2 {
		for i := 0; i < w; i++ {
			build.VADDPS(acc[i+w], acc[i], acc[i])
		}
	}
	hi := build.XMM()
	build.VEXTRACTF128(operand.U8(1), acc[0], hi)
	lo := acc[0].AsX()
	build.VADDPS(hi, lo, lo)
	build.VHADDPS(lo, lo, lo)
	build.VHADDPS(lo, lo, lo)
	build.VZEROUPPER()
	build.Store(lo, build.ReturnIndex(0))
	build.RET()
}
