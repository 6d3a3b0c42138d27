package kernels

import (
	"fmt"
	"slices"
	"time"

	"github.com/loftml/loft/tensor"
)

// gemvBlockRows is how many rows of W one pass covers: with several rows
// of x, each block of W (at most 64 rows of a few thousand floats) stays in
// L2 while every x row passes over it.
const gemvBlockRows = 64

// gemvSplitRows is the granularity at which threads split a GEMV's rows.
// It is finer than gemvBlockRows so the halves stay even: with 64-row
// blocks a 576-row weight splits 4:5, and the thread with five blocks held
// the other up for 10% of every call (SmolLM's o_proj and down_proj).
const gemvSplitRows = 16

// gemvLongRow is the row length, in floats, from which the AVX-512 GEMV
// takes four rows at a time (gemvRowsSeq4AVX512, four copies of the row
// loop) instead of one: 1.5-4% faster for Qwen2.5-0.5B's down_proj rows of
// 4864, 2-5% slower for rows of 576-1536 (internal/asmgen/gemv).
const gemvLongRow = 2048

// MatVecBT writes y (N, Out) = x (N, In)·wᵀ + b with w (Out, In), for the
// few rows N of decoding, where packing w for the blocked GEMM would cost
// more than the product. It reads w once (per block of rows, for every x
// row), split over threads by output rows; decoding is bound by that read.
// b (Out) is added to every row unless nil. Each thread adds it to its own
// rows while they are in its cache; a separate pass after the product ran
// on one thread, which first had to fetch the rows the other one wrote.
func MatVecBT(y, x, w, b []float32, N, In, Out int) {
	if len(x) < N*In || len(y) < N*Out || len(w) < Out*In || (b != nil && len(b) < Out) {
		panic(fmt.Sprintf("kernels.MatVecBT: x has %d values, y %d, w %d, b %d, for N=%d In=%d Out=%d", len(x), len(y), len(w), len(b), N, In, Out))
	}
	units := (Out + gemvSplitRows - 1) / gemvSplitRows
	if N == 0 || units == 0 {
		return
	}
	t := gemvThreads(Out, In)
	parallelChunks(units, min(units, t), t, func(lo, hi int) {
		gemvUnits(y, w, b, x, N, In, Out, lo, hi)
	})
}

// gemvThreads returns the threads a GEMV over rows·in weights runs on: one
// where a hand-off would cost more than the product (a few microseconds).
func gemvThreads(rows, in int) int {
	if rows*in < 1<<15 {
		return 1
	}
	return Threads()
}

// gemvUnits writes rows [u0, u1)·gemvSplitRows of y (N, out) = x (N,
// in)·wᵀ + bias (nil for none), in blocks of at most gemvBlockRows rows,
// each block passing over every x row while it is in L2.
func gemvUnits(y, w, bias, x []float32, N, in, out, u0, u1 int) {
	r1 := min(u1*gemvSplitRows, out)
	for b := u0 * gemvSplitRows; b < r1; b += gemvBlockRows {
		e := min(b+gemvBlockRows, r1)
		for n := 0; n < N; n++ {
			yr := y[n*out+b : n*out+e]
			gemvRowsFast(yr, w[b*in:e*in], x[n*in:(n+1)*in], in)
			if bias != nil {
				vAddTo(yr, bias[b:e])
			}
		}
	}
}

// gemvRowsGo is the reference: y[o] = w[o·ldw : o·ldw+in]·x, in =
// len(x), with eight independent partial sums so the additions pipeline.
func gemvRowsGo(y, w, x []float32, ldw int) {
	in := len(x)
	for o := range y {
		y[o] = dot8(w[o*ldw:o*ldw+in], x)
	}
}

// axpyRowsGo is the reference: y += Σ_j p[j]·v[j·ldv : j·ldv+len(y)].
func axpyRowsGo(y, p, v []float32, ldv int) {
	for j, pj := range p {
		row := v[j*ldv : j*ldv+len(y)]
		for i := range y {
			y[i] += pj * row[i]
		}
	}
}

// dot8 returns Σ a[i]·b[i] in eight interleaved partial sums.
func dot8(a, b []float32) float32 {
	b = b[:len(a)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		a8, b8 := a[i:i+8:i+8], b[i:i+8:i+8]
		for k := range 8 {
			s[k] += a8[k] * b8[k]
		}
	}
	for ; i < len(a); i++ {
		s[0] += a[i] * b[i]
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

// PeakFlops measures the machine's float32 peak in FLOP/s on Threads()
// threads: every thread runs an FMA-only loop in assembly (12 independent
// chains on the widest vectors the GEMM uses, AVX2 or AVX-512), for passes
// of about 50 ms until at least a second has passed, and the best pass
// counts. It returns 0 where there is no such loop (no AVX2/FMA, or a
// purego build).
func PeakFlops() float64 {
	fma, flops := fmaPeakLoop()
	if fma == nil {
		return 0
	}
	return peakFlops(Threads(), fma, flops, time.Now)
}

// peakFlops is PeakFlops with the FMA loop (fma(n) runs n iterations of
// flops FLOPs each) and the clock passed in, so that the FLOP counting
// can be tested on a fake clock. Every one of t threads runs the same
// iterations per pass; the rate is their FLOPs over the best pass's time.
func peakFlops(t int, fma func(n int), flops int, now func() time.Time) float64 {
	const iters = 1 << 20 // 200-400 MFLOP per thread per call
	calls := 1
	pass := func() time.Duration {
		start := now()
		parallelChunks(t, t, t, func(lo, hi int) {
			for range hi - lo {
				for range calls {
					fma(iters)
				}
			}
		})
		return now().Sub(start)
	}
	pass() // wake the workers
	for d := pass(); d < 50*time.Millisecond; d = pass() {
		calls *= 2
	}
	best := time.Duration(1 << 62)
	for n, begin := 0, now(); n < 5 || now().Sub(begin) < time.Second; n++ {
		best = min(best, pass())
	}
	return float64(t) * float64(calls) * iters * float64(flops) / best.Seconds()
}

// Bandwidth is what ReadBandwidth measured, in bytes/s, over passes that
// each read the whole buffer once.
type Bandwidth struct {
	// Median is the median pass's rate: the bandwidth a reader sustains
	// for the second the probe lasts, which is what a decoding run that
	// lasts seconds can be held to.
	Median float64
	// Best is the fastest pass's rate. On a shared machine it is a burst
	// above the sustained rate (3-10% here: passes spread over about 15%
	// with load from elsewhere), and the more passes, the higher it goes.
	Best float64
}

// ReadBandwidth measures the streaming-read bandwidth, the bound of
// decoding: Threads() threads each sum their own contiguous part of a
// float32 buffer of size bytes (make it far larger than the caches) with
// the cheapest loop there is (streamSum). Passes repeat for at least a
// second and five passes; it returns their median and best rates.
func ReadBandwidth(size int) Bandwidth {
	buf, release := tensor.Mapped(size / 4) // on huge pages, as weights are
	defer release()
	for i := range buf { // touch every page so no pass pays for faults
		buf[i] = float32(i & 1023)
	}
	t := Threads()
	sums := make([]float32, t)
	pass := func() time.Duration {
		start := time.Now()
		parallelChunks(t, t, t, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				sums[c] = streamSum(buf[c*len(buf)/t : (c+1)*len(buf)/t])
			}
		})
		return time.Since(start)
	}
	pass()
	var passes []time.Duration
	for begin := time.Now(); len(passes) < 5 || time.Since(begin) < time.Second; {
		passes = append(passes, pass())
	}
	return bandwidthOf(float64(len(buf)*4), passes)
}

// bandwidthOf returns the median and best rates of passes that each read
// bytes (at least one pass). With an even count the median is the slower
// of the two middle passes.
func bandwidthOf(bytes float64, passes []time.Duration) Bandwidth {
	d := slices.Clone(passes)
	slices.Sort(d)
	return Bandwidth{Median: bytes / d[len(d)/2].Seconds(), Best: bytes / d[0].Seconds()}
}

// MatVecBTMany writes ys[k] (N, outs[k]) = x (N, In)·ws[k]ᵀ + bs[k], ws[k]
// (outs[k], In), for every k, in one parallel loop: the projections that
// share an input (q/k/v, gate/up) cost one hand-off to the threads instead
// of one each, and the threads split the rows of all the weights, taken
// as one matrix, into contiguous parts of equal size (to gemvSplitRows).
// bs may be nil, and so may any bs[k] (no bias), as in MatVecBT.
func MatVecBTMany(ys, ws, bs [][]float32, outs []int, x []float32, N, In int) {
	if len(ys) != len(ws) || len(ws) != len(outs) || (bs != nil && len(bs) != len(ws)) {
		panic(fmt.Sprintf("kernels.MatVecBTMany: %d outputs, %d weights, %d biases, %d sizes", len(ys), len(ws), len(bs), len(outs)))
	}
	for k, out := range outs {
		if b := biasOf(bs, k); len(x) < N*In || len(ys[k]) < N*out || len(ws[k]) < out*In || (b != nil && len(b) < out) {
			panic(fmt.Sprintf("kernels.MatVecBTMany: weight %d: x has %d values, y %d, w %d, b %d, for N=%d In=%d Out=%d", k, len(x), len(ys[k]), len(ws[k]), len(b), N, In, out))
		}
	}
	units, rows := 0, 0
	for _, out := range outs {
		units += (out + gemvSplitRows - 1) / gemvSplitRows
		rows += out
	}
	if N == 0 || units == 0 {
		return
	}
	t := gemvThreads(rows, In)
	parallelChunks(units, min(units, t), t, func(lo, hi int) {
		first := 0 // global index of weight k's first unit
		for k, out := range outs {
			nu := (out + gemvSplitRows - 1) / gemvSplitRows
			if u0, u1 := max(lo-first, 0), min(hi-first, nu); u0 < u1 {
				gemvUnits(ys[k], ws[k], biasOf(bs, k), x, N, In, out, u0, u1)
			}
			first += nu
		}
	})
}

// biasOf returns bs[k], or nil when bs is nil.
func biasOf(bs [][]float32, k int) []float32 {
	if bs == nil {
		return nil
	}
	return bs[k]
}
