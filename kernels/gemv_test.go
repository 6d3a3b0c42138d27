package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestMatVecBT compares MatVecBT (the AVX2 kernel where sizes allow, the Go
// loop elsewhere) with the reference GEMM, on sizes that hit every path:
// In a multiple of 16 or not, Out with and without a remainder below 4,
// more rows than a block, one and several x rows, one and two threads,
// with and without a bias.
func TestMatVecBT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ N, In, Out int }{
		{1, 16, 4}, {1, 32, 7}, {1, 20, 5}, {2, 64, 130}, {1, 576, 1000}, {3, 768, 257}, {1, 1, 1}, {2, 2048, 71},
	} {
		x, w, b := make([]float32, c.N*c.In), make([]float32, c.Out*c.In), make([]float32, c.Out)
		for _, v := range [][]float32{x, w, b} {
			for i := range v {
				v[i] = rng.Float32()*2 - 1
			}
		}
		want := make([]float32, c.N*c.Out)
		gemmRef(false, true, c.N, c.Out, c.In, x, c.In, w, c.In, want, c.Out, false)
		for _, bias := range [][]float32{nil, b} {
			for _, th := range []int{1, 2} {
				old := Threads()
				SetThreads(th)
				got := make([]float32, c.N*c.Out)
				MatVecBT(got, x, w, bias, c.N, c.In, c.Out)
				SetThreads(old)
				for i := range got {
					wi := want[i]
					if bias != nil {
						wi += b[i%c.Out]
					}
					// Sums of In products of values in [-1, 1] in a different order.
					if d := math.Abs(float64(got[i] - wi)); d > 1e-5*float64(c.In+1) {
						t.Fatalf("N=%d In=%d Out=%d threads %d bias %v: y[%d] = %g, want %g", c.N, c.In, c.Out, th, bias != nil, i, got[i], wi)
					}
				}
			}
		}
	}
}

// TestGemvRowsAVX2Exact checks the kernels on values whose products and
// sums are exact in float32 (small integers), so any order gives the same
// bits: the row-interleaved AVX2 kernel (48) and, where the CPU has
// AVX-512, the one-row kernel (128) and the four-row one for long rows
// (gemvLongRow), on 7 rows so that the last three take another path.
func TestGemvRowsAVX2Exact(t *testing.T) {
	for _, in := range []int{48, 128, gemvLongRow} {
		t.Run(fmt.Sprint(in), func(t *testing.T) { checkGemvExact(t, 7, in) })
	}
}

func checkGemvExact(t *testing.T, rows, in int) {
	x, w := make([]float32, in), make([]float32, rows*in)
	for i := range x {
		x[i] = float32(i%5 - 2)
	}
	for i := range w {
		w[i] = float32(i%7 - 3)
	}
	got, want := make([]float32, rows), make([]float32, rows)
	gemvRowsFast(got, w, x, in)
	for o := range want {
		for i := range in {
			want[o] += w[o*in+i] * x[i]
		}
	}
	for o := range got {
		if got[o] != want[o] {
			t.Fatalf("row %d: %g, want %g", o, got[o], want[o])
		}
	}
}

// TestPeakFlopsCounting checks PeakFlops' arithmetic without timing
// anything: on a fake clock that one FMA iteration advances by 1 ns, shared
// by all threads (they take turns on one core), every pass does
// t·calls·2²⁰ iterations in as many nanoseconds, so the rate must be
// exactly 192 FLOPs per ns (the loop's FLOPs per iteration), whatever t and the calibrated calls. A wrong
// FLOP count per iteration (an FMA counted once) or a missing factor of
// the threads gives another number.
func TestPeakFlopsCounting(t *testing.T) {
	for _, th := range []int{1, 2, 3} {
		var ns atomic.Int64
		base := time.Unix(0, 0)
		now := func() time.Time { return base.Add(time.Duration(ns.Load())) }
		fma := func(n int) { ns.Add(int64(n)) }
		if got, want := peakFlops(th, fma, 192, now), 192e9; got != want {
			t.Errorf("%d threads: %g FLOP/s, want %g", th, got, want)
		}
	}
}

// TestPeakFlops runs the real measurement and checks only what load from
// other processes cannot break: the peak is positive and at most 64
// FLOPs per cycle per thread at 6 GHz (a slowed pass only lowers it). How
// the GEMM compares with it is BenchmarkGemmVsPeak's to report.
func TestPeakFlops(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a second")
	}
	p := PeakFlops()
	if p == 0 {
		t.Skip("no FMA loop on this machine")
	}
	if p > float64(Threads())*64*6e9 {
		t.Fatalf("peak %.3g FLOP/s is more than 64 FLOPs/cycle at 6 GHz per thread", p)
	}
	t.Logf("peak %.1f GFLOP/s on %d threads", p/1e9, Threads())
}

// BenchmarkGemmVsPeak reports the blocked GEMM's rate on 256³ and its
// fraction of PeakFlops, measured in the same run.
func BenchmarkGemmVsPeak(b *testing.B) {
	p := PeakFlops()
	if p == 0 {
		b.Skip("no FMA loop on this machine")
	}
	const n = 256
	a, bb, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	best := time.Duration(1 << 62)
	for b.Loop() {
		start := time.Now()
		MatMul(c, a, bb, n, n, n, false)
		best = min(best, time.Since(start))
	}
	g := 2 * n * n * n / best.Seconds()
	b.ReportMetric(g/1e9, "gemm-GFLOP/s")
	b.ReportMetric(p/1e9, "peak-GFLOP/s")
	b.ReportMetric(g/p, "gemm/peak")
}

// BenchmarkMatVecBT reports the read rate of w in GB/s, for comparison
// with `loft bench generate`'s streaming-read bandwidth.
func BenchmarkMatVecBT(b *testing.B) {
	for _, c := range []struct{ In, Out int }{{576, 192}, {576, 1536}, {1536, 576}, {576, 49152}, {896, 151936}} {
		b.Run(fmt.Sprintf("%dx%d", c.Out, c.In), func(b *testing.B) {
			x, w, y := make([]float32, c.In), make([]float32, c.In*c.Out), make([]float32, c.Out)
			for i := range w {
				w[i] = float32(i % 7)
			}
			b.SetBytes(int64(4 * len(w)))
			for b.Loop() {
				MatVecBT(y, x, w, nil, 1, c.In, c.Out)
			}
		})
	}
}

// BenchmarkMatVecBTvsRead alternates MatVecBT on a 113 MB weight (the
// SmolLM-135M head) with a plain streaming read of the same bytes
// (streamSum) and reports the best rate of each, so that load from other
// processes hits both alike; gemv/read is the fraction of the bandwidth
// the kernel reaches.
func BenchmarkMatVecBTvsRead(b *testing.B) {
	const In, Out = 576, 49152
	x, w, y := make([]float32, In), make([]float32, In*Out), make([]float32, Out)
	for i := range w {
		w[i] = float32(i % 7)
	}
	var bestG, bestR time.Duration = 1 << 62, 1 << 62
	t := Threads()
	for b.Loop() {
		start := time.Now()
		MatVecBT(y, x, w, nil, 1, In, Out)
		bestG = min(bestG, time.Since(start))
		start = time.Now()
		ParallelFor(t, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				y[c] = streamSum(w[c*len(w)/t : (c+1)*len(w)/t])
			}
		})
		bestR = min(bestR, time.Since(start))
	}
	gb := float64(4*len(w)) / 1e9
	b.ReportMetric(gb/bestG.Seconds(), "gemv-GB/s")
	b.ReportMetric(gb/bestR.Seconds(), "read-GB/s")
	b.ReportMetric(bestR.Seconds()/bestG.Seconds(), "gemv/read")
}

// TestStreamSum checks the streaming sum on integers (exact in float32 in
// any order) with and without a tail past the assembly's 64-float steps.
func TestStreamSum(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 4096} {
		x := make([]float32, n)
		var want float32
		for i := range x {
			x[i] = float32(i%9 - 4)
			want += x[i]
		}
		if got := streamSum(x); got != want {
			t.Errorf("n=%d: %g, want %g", n, got, want)
		}
	}
}

// TestBandwidthOf checks the statistics of the probe's passes by hand: the
// median pass (the slower middle one for an even count) and the fastest,
// whatever order the passes came in.
func TestBandwidthOf(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		passes       []time.Duration
		median, best float64
	}{
		{[]time.Duration{4 * ms, 1 * ms, 2 * ms, 3 * ms}, 1e6 / 0.003, 1e6 / 0.001},
		{[]time.Duration{5 * ms, 2 * ms, 8 * ms}, 1e6 / 0.005, 1e6 / 0.002},
		{[]time.Duration{10 * ms}, 1e6 / 0.010, 1e6 / 0.010},
	} {
		got := bandwidthOf(1e6, c.passes)
		if got.Median != c.median || got.Best != c.best {
			t.Errorf("%v: %+v, want median %g, best %g", c.passes, got, c.median, c.best)
		}
	}
	p := []time.Duration{3 * ms, 1 * ms}
	bandwidthOf(1, p)
	if p[0] != 3*ms {
		t.Errorf("bandwidthOf reordered its argument: %v", p)
	}
}

// TestGemvRowsStrided checks rows read with a stride larger than their
// length (attention's key rows) against the Go reference.
func TestGemvRowsStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ rows, in, ldw int }{{4, 16, 48}, {9, 64, 192}, {3, 64, 64}, {13, 32, 40}} {
		w, x := make([]float32, (c.rows-1)*c.ldw+c.in), make([]float32, c.in)
		for i := range w {
			w[i] = rng.Float32()*2 - 1
		}
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		got, want := make([]float32, c.rows), make([]float32, c.rows)
		gemvRowsFast(got, w, x, c.ldw)
		for o := range want {
			var s float64
			for i := range c.in {
				s += float64(w[o*c.ldw+i]) * float64(x[i])
			}
			want[o] = float32(s)
		}
		for o := range got {
			if d := math.Abs(float64(got[o] - want[o])); d > 1e-5 {
				t.Fatalf("%+v: row %d: %g, want %g", c, o, got[o], want[o])
			}
		}
	}
}

// TestMatVecBTMany checks the fused product of several weights against
// MatVecBT on each, for one and two threads, with sizes whose blocks end
// mid-weight (a chunk boundary inside a weight) and a weight of one row,
// without biases and with a bias on every weight but the first.
func TestMatVecBTMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		N, In int
		outs  []int
	}{{1, 576, []int{576, 192, 192}}, {2, 64, []int{130, 1, 70}}, {1, 20, []int{5, 9}}, {1, 896, []int{4864, 4864}}} {
		x := make([]float32, c.N*c.In)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		ws, bs := make([][]float32, len(c.outs)), make([][]float32, len(c.outs))
		for k, out := range c.outs {
			ws[k] = make([]float32, out*c.In)
			for i := range ws[k] {
				ws[k][i] = rng.Float32()*2 - 1
			}
			if k > 0 {
				bs[k] = make([]float32, out)
				for i := range bs[k] {
					bs[k][i] = rng.Float32()*2 - 1
				}
			}
		}
		for _, biases := range [][][]float32{nil, bs} {
			want := make([][]float32, len(c.outs))
			for k, out := range c.outs {
				want[k] = make([]float32, c.N*out)
				var b []float32
				if biases != nil {
					b = biases[k]
				}
				MatVecBT(want[k], x, ws[k], b, c.N, c.In, out)
			}
			for _, th := range []int{1, 2} {
				old := Threads()
				SetThreads(th)
				got := make([][]float32, len(c.outs))
				for k, out := range c.outs {
					got[k] = make([]float32, c.N*out)
				}
				MatVecBTMany(got, ws, biases, c.outs, x, c.N, c.In)
				SetThreads(old)
				for k := range got {
					for i := range got[k] {
						// Same kernel on the same rows: the same bits.
						if got[k][i] != want[k][i] {
							t.Fatalf("N=%d In=%d outs=%v threads %d biases %v: y%d[%d] = %g, want %g", c.N, c.In, c.outs, th, biases != nil, k, i, got[k][i], want[k][i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkMatVecBTLayers runs the GEMVs of SmolLM-135M's 30 layers as
// decoding does (q/k/v fused, o, gate/up fused, down), 425 MB of weights,
// far beyond the caches, and reports their read rate beside a streaming
// read of the same weights: gemv/read is the fraction of the bandwidth the
// per-layer products reach, hand-offs to the threads included.
func BenchmarkMatVecBTLayers(b *testing.B) {
	const C, H, KV, L = 576, 1536, 192, 30
	type layer struct{ q, k, v, o, g, u, d []float32 }
	mk := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(i % 7)
		}
		return w
	}
	ls := make([]layer, L)
	bytes := 0
	for i := range ls {
		ls[i] = layer{mk(C * C), mk(KV * C), mk(KV * C), mk(C * C), mk(H * C), mk(H * C), mk(C * H)}
		bytes += 4 * (2*C*C + 2*KV*C + 3*H*C)
	}
	x, h := make([]float32, H), make([]float32, H)
	y := [][]float32{make([]float32, H), make([]float32, H), make([]float32, H)}
	t := Threads()
	sums := make([]float32, t)
	read := func(w []float32) {
		parallelChunks(t, t, t, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				sums[c] = streamSum(w[c*len(w)/t : (c+1)*len(w)/t])
			}
		})
	}
	var bestG, bestR time.Duration = 1 << 62, 1 << 62
	for b.Loop() {
		start := time.Now()
		for _, l := range ls {
			MatVecBTMany(y, [][]float32{l.q, l.k, l.v}, nil, []int{C, KV, KV}, x, 1, C)
			MatVecBT(h, x, l.o, nil, 1, C, C)
			MatVecBTMany(y[:2], [][]float32{l.g, l.u}, nil, []int{H, H}, x, 1, C)
			MatVecBT(h, x, l.d, nil, 1, H, C)
		}
		bestG = min(bestG, time.Since(start))
		start = time.Now()
		for _, l := range ls {
			for _, w := range [][]float32{l.q, l.k, l.v, l.o, l.g, l.u, l.d} {
				read(w)
			}
		}
		bestR = min(bestR, time.Since(start))
	}
	gb := float64(bytes) / 1e9
	b.ReportMetric(gb/bestG.Seconds(), "gemv-GB/s")
	b.ReportMetric(gb/bestR.Seconds(), "read-GB/s")
	b.ReportMetric(bestR.Seconds()/bestG.Seconds(), "gemv/read")
}

// TestAxpyRows checks the weighted sum of strided rows (attention's value
// rows for one query) against the Go reference, for widths that use every
// block size of the kernel (64, 32, 8) and one that falls back to Go.
func TestAxpyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ n, hs, ldv int }{{1, 8, 8}, {5, 64, 192}, {37, 128, 128}, {3, 104, 130}, {4, 12, 20}} {
		v, p := make([]float32, (c.n-1)*c.ldv+c.hs), make([]float32, c.n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		for i := range p {
			p[i] = rng.Float32()
		}
		got, want := make([]float32, c.hs), make([]float32, c.hs)
		for i := range got {
			got[i] = float32(i)
			want[i] = float32(i)
		}
		axpyRowsFast(got, p, v, c.ldv)
		axpyRowsGo(want, p, v, c.ldv)
		for i := range got {
			// The same products and sums in the same order (FMA rounds once).
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
				t.Fatalf("%+v: y[%d] = %g, want %g", c, i, got[i], want[i])
			}
		}
	}
}
