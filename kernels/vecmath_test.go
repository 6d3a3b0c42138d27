package kernels

import (
	"math"
	"testing"
)

// denseRange returns the edge cases every vector routine must get right
// (first, so the assembly sees them, not the scalar tail), a NaN, then a
// uniform grid of n points over [lo, hi], then +Inf and -Inf.
func denseRange(lo, hi float64, n int) []float32 {
	x := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-8, -1e-8, 0.29999998, 0.3,
		88.7, 88.72283, 88.72284, 88.8, -87.3, -87.4, -103, -1000, 1000, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN())}
	for i := 0; i < n; i++ {
		x = append(x, float32(lo+(hi-lo)*float64(i)/float64(n-1)))
	}
	return append(x, float32(math.Inf(1)), float32(math.Inf(-1)))
}

// vecPaths runs fn with the assembly path (when this machine has one) and
// with the pure-Go loop.
func vecPaths(t *testing.T, fn func(t *testing.T)) {
	t.Run("go", func(t *testing.T) {
		old := useVecAVX2
		useVecAVX2 = false
		defer func() { useVecAVX2 = old }()
		fn(t)
	})
	if useVecAVX2 {
		t.Run("avx2", fn)
	}
}

func TestExp(t *testing.T) {
	vecPaths(t, func(t *testing.T) {
		x := denseRange(-100, 100, 2_000_003)
		y := make([]float32, len(x))
		Exp(y, x)
		worst := 0.0
		for i, v := range x {
			want := math.Exp(float64(v))
			got := float64(y[i])
			switch {
			case math.IsNaN(want):
				if !math.IsNaN(got) {
					t.Fatalf("exp(NaN) = %v", got)
				}
			case want > math.MaxFloat32:
				if !math.IsInf(got, 1) {
					t.Fatalf("exp(%v) = %v, want +Inf", v, got)
				}
			case want < 0x1p-126:
				// Below the normal range the result may flush to zero.
				if got < 0 || got > 0x1p-126 {
					t.Fatalf("exp(%v) = %v, want ~%v", v, got, want)
				}
			default:
				rel := math.Abs(got-want) / want
				worst = math.Max(worst, rel)
				if rel > 3e-7 {
					t.Fatalf("exp(%v) = %v, want %v (relative error %.2g)", v, got, want, rel)
				}
			}
		}
		t.Logf("exp: max relative error %.3g (%.2f ulp of float32)", worst, worst/0x1p-24)
		nan := []float32{float32(math.NaN())}
		if Exp(nan, nan); !math.IsNaN(float64(nan[0])) {
			t.Fatalf("exp(NaN) = %v", nan[0])
		}
	})
}

func TestTanhSigmoid(t *testing.T) {
	vecPaths(t, func(t *testing.T) {
		x := denseRange(-20, 20, 2_000_003)
		y := make([]float32, len(x))
		Tanh(y, x)
		worstAbs, worstRel := 0.0, 0.0
		for i, v := range x {
			want := math.Tanh(float64(v))
			if math.IsNaN(want) {
				if !math.IsNaN(float64(y[i])) {
					t.Fatalf("tanh(NaN) = %v", y[i])
				}
				continue
			}
			d := math.Abs(float64(y[i]) - want)
			worstAbs = math.Max(worstAbs, d)
			if want != 0 {
				worstRel = math.Max(worstRel, d/math.Abs(want))
			}
			if d > 1.2e-7 || d > 1e-6*math.Abs(want) || math.IsNaN(float64(y[i])) {
				t.Fatalf("tanh(%v) = %v, want %v", v, y[i], want)
			}
		}
		t.Logf("tanh: max abs error %.3g, max relative error %.3g", worstAbs, worstRel)
		Sigmoid(y, x)
		worstAbs = 0
		for i, v := range x {
			want := 1 / (1 + math.Exp(-float64(v)))
			if math.IsNaN(want) {
				if !math.IsNaN(float64(y[i])) {
					t.Fatalf("sigmoid(NaN) = %v", y[i])
				}
				continue
			}
			d := math.Abs(float64(y[i]) - want)
			worstAbs = math.Max(worstAbs, d)
			if d > 1.2e-7 || math.IsNaN(float64(y[i])) {
				t.Fatalf("sigmoid(%v) = %v, want %v", v, y[i], want)
			}
		}
		t.Logf("sigmoid: max abs error %.3g", worstAbs)
		if y[len(y)-2] != 1 || y[len(y)-1] != 0 {
			t.Fatalf("sigmoid(±Inf) = %v, %v", y[len(y)-2], y[len(y)-1])
		}
	})
}

// TestVecFastVsRef runs the fused activation kernels on both paths and
// requires them to agree closely (each is also tested against float64).
func TestVecPathsAgree(t *testing.T) {
	if !useVecAVX2 {
		t.Skip("no assembly path on this machine")
	}
	x := denseRange(-12, 12, 10_007)[:10_000]
	x[19] = 0 // no NaN here: NaN never compares equal
	n := len(x)
	run := func(asm bool) [][]float32 {
		old := useVecAVX2
		useVecAVX2 = asm
		defer func() { useVecAVX2 = old }()
		outs := make([][]float32, 10)
		for i := range outs {
			outs[i] = make([]float32, n)
		}
		GELUTanhForward(outs[0], x, n)
		GELUTanhBackward(outs[1], x, x, n)
		SiLUForward(outs[2], x, n)
		SiLUBackward(outs[3], x, x, n)
		SwiGLUForward(outs[4], x, x, n)
		SwiGLUBackward(outs[5], outs[6], x, x, x, n)
		SoftmaxForward(outs[7], x, 1, n)
		GELUErfForward(outs[8], x, n)
		GELUErfBackward(outs[9], x, x, n)
		return outs
	}
	a, g := run(true), run(false)
	for k := range a {
		for i := range a[k] {
			d := math.Abs(float64(a[k][i] - g[k][i]))
			if d > 2e-6*math.Max(1, math.Abs(float64(g[k][i]))) {
				t.Fatalf("output %d, x=%v: avx2 %v, go %v", k, x[i], a[k][i], g[k][i])
			}
		}
	}
}
