package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// gradCheck compares the analytic gradient g of loss with respect to x
// against central finite differences on every entry: loss is a float64
// sum over a float32 forward, h the step. It reports the cosine
// similarity and the relative error of the norm over all entries, which
// are meaningful where single float32 differences are noisy.
func gradCheck(t *testing.T, name string, x, g []float32, loss func() float64, h float32) {
	t.Helper()
	cos, rel := testutil.GradCheck(x, g, nil, loss, h)
	if !(cos > 0.9999) || !(rel < 1e-3) {
		t.Errorf("%s: gradient vs finite differences: cosine %.6f, norm relative error %.2g", name, cos, rel)
	}
}

// weighted returns Σ w·y in float64: a scalar loss whose gradient with
// respect to y is w.
func weighted(w, y []float32) float64 {
	var s float64
	for i := range y {
		s += float64(w[i]) * float64(y[i])
	}
	return s
}

func TestLinearBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const N, In, Out = 5, 7, 6
	l := NewLinear(In, Out, true)
	FillNormal(l.W, 1, rng)
	FillNormal(l.B, 1, rng)
	x, w := randSlice(rng, N*In), randSlice(rng, N*Out)
	y := make([]float32, N*Out)
	loss := func() float64 { l.Forward(y, x, N); return weighted(w, y) }
	dx := randSlice(rng, N*In)
	before := append([]float32(nil), dx...)
	l.Backward(dx, w, x, N)
	for i := range dx {
		dx[i] -= before[i] // Backward accumulates
	}
	gradCheck(t, "Linear dx", x, dx, loss, 1e-2)
	l.Backward(nil, w, x, N) // nil dx: nothing to do, no panic
}

func TestNormBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const N, C = 4, 9
	x, w := randSlice(rng, N*C), randSlice(rng, N*C)
	y := make([]float32, N*C)
	mean, rstd := make([]float32, N), make([]float32, N)

	rms := RMSNorm{W: randSlice(rng, C), Eps: 1e-5}
	dx := make([]float32, N*C)
	rms.Forward(y, rstd, x, N)
	rms.Backward(dx, w, x, rstd, N)
	gradCheck(t, "RMSNorm dx", x, dx, func() float64 { rms.Forward(y, rstd, x, N); return weighted(w, y) }, 1e-2)

	ln := LayerNorm{W: randSlice(rng, C), B: randSlice(rng, C), Eps: 1e-5}
	clear(dx)
	ln.Forward(y, mean, rstd, x, N)
	ln.Backward(dx, w, x, mean, rstd, N)
	gradCheck(t, "LayerNorm dx", x, dx, func() float64 { ln.Forward(y, mean, rstd, x, N); return weighted(w, y) }, 1e-2)
}

func TestAttentionBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	a := Attention{NH: 4, NKV: 2, HS: 4}
	const B, T = 2, 5
	qd, kvd := a.NH*a.HS, a.NKV*a.HS
	q, k, v := randSlice(rng, B*T*qd), randSlice(rng, B*T*kvd), randSlice(rng, B*T*kvd)
	w := randSlice(rng, B*T*qd)
	out, probs := make([]float32, B*T*qd), make([]float32, B*a.NH*T*T)
	loss := func() float64 { a.Forward(out, probs, q, k, v, B, T, true, nil); return weighted(w, out) }
	loss()
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	a.Backward(dq, dk, dv, w, probs, q, k, v, B, T, true, nil)
	gradCheck(t, "Attention dq", q, dq, loss, 1e-2)
	gradCheck(t, "Attention dk", k, dk, loss, 1e-2)
	gradCheck(t, "Attention dv", v, dv, loss, 1e-2)
}
