package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Gradient checks: every backward is compared with central finite
// differences of the projection loss L = Σ out·R, all in float64 with the
// same generic code the float32 ops run.

func randF64(rng *rand.Rand, n int, scale float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = scale * rng.NormFloat64()
	}
	return x
}

func dot64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// gradCase is one input of an op: its values and the analytic gradient the
// backward produced for it.
type gradCase struct {
	name string
	x    []float64
	grad []float64
}

// checkFD perturbs every element of every input by ±h and compares
// (L(x+h) - L(x-h))/2h with the analytic gradient, with a relative
// tolerance on max(|fd|, |analytic|, 1).
func checkFD(t *testing.T, loss func() float64, inputs []gradCase, tol float64) {
	t.Helper()
	const h = 1e-5
	for _, in := range inputs {
		worst := 0.0
		for i := range in.x {
			old := in.x[i]
			in.x[i] = old + h
			lp := loss()
			in.x[i] = old - h
			lm := loss()
			in.x[i] = old
			fd := (lp - lm) / (2 * h)
			err := math.Abs(fd-in.grad[i]) / math.Max(1, math.Max(math.Abs(fd), math.Abs(in.grad[i])))
			worst = math.Max(worst, err)
			if err > tol || math.IsNaN(in.grad[i]) {
				t.Fatalf("d%s[%d]: analytic %.10g, finite difference %.10g", in.name, i, in.grad[i], fd)
			}
		}
		t.Logf("d%s: max relative error %.2e over %d elements", in.name, worst, len(in.x))
	}
}

const fdTol = 1e-7

func TestGradEmbeddingAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	N, V, C := 5, 7, 3
	ids := []int32{3, 0, 3, 6, 1}
	wte := randF64(rng, V*C, 1)
	other := randF64(rng, N*C, 1)
	R := randF64(rng, N*C, 1)
	out := make([]float64, N*C)
	loss := func() float64 {
		embeddingForward(out, ids, wte, N, V, C)
		addForward(out, out, other, N*C)
		return dot64(out, R)
	}
	demb := make([]float64, N*C)
	dother := make([]float64, N*C)
	addBackward(demb, dother, R, N*C)
	dwte := make([]float64, V*C)
	embeddingBackward(dwte, demb, ids, N, V, C)
	embeddingBackward[float64](nil, demb, ids, N, V, C) // frozen: must not panic
	checkFD(t, loss, []gradCase{{"wte", wte, dwte}, {"other", other, dother}}, fdTol)
}

func TestGradLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	N, C := 4, 6
	x, w, b := randF64(rng, N*C, 2), randF64(rng, C, 1), randF64(rng, C, 1)
	R := randF64(rng, N*C, 1)
	out, mean, rstd := make([]float64, N*C), make([]float64, N), make([]float64, N)
	loss := func() float64 {
		layerNormForward(out, mean, rstd, x, w, b, N, C, 1e-5)
		return dot64(out, R)
	}
	loss()
	dx, dw, db := make([]float64, N*C), make([]float64, C), make([]float64, C)
	layerNormBackward(dx, dw, db, R, x, w, mean, rstd, N, C)
	checkFD(t, loss, []gradCase{{"x", x, dx}, {"w", w, dw}, {"b", b, db}}, fdTol)
}

func TestGradRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, C := range []int{1, 4, 9} { // any row width: per-head q/k norms use C = HS
		N := 3
		x, w := randF64(rng, N*C, 2), randF64(rng, C, 1)
		R := randF64(rng, N*C, 1)
		out, rstd := make([]float64, N*C), make([]float64, N)
		loss := func() float64 {
			rmsNormForward(out, rstd, x, w, N, C, 1e-6)
			return dot64(out, R)
		}
		loss()
		dx, dw := make([]float64, N*C), make([]float64, C)
		rmsNormBackward(dx, dw, R, x, w, rstd, N, C)
		checkFD(t, loss, []gradCase{{"x", x, dx}, {"w", w, dw}}, fdTol)
	}
}

func TestGradActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	N := 40
	x := randF64(rng, N, 3)
	up := randF64(rng, N, 1)
	R := randF64(rng, N, 1)
	out := make([]float64, N)
	for _, op := range []struct {
		name string
		fwd  func(out, x []float64, n int)
		bwd  func(dx, dout, x []float64, n int)
	}{
		{"gelu_tanh", geluTanhForward[float64], geluTanhBackward[float64]},
		{"gelu_erf", geluErfForward[float64], geluErfBackward[float64]},
		{"silu", siluForward[float64], siluBackward[float64]},
	} {
		t.Run(op.name, func(t *testing.T) {
			loss := func() float64 { op.fwd(out, x, N); return dot64(out, R) }
			dx := make([]float64, N)
			op.bwd(dx, R, x, N)
			checkFD(t, loss, []gradCase{{"x", x, dx}}, fdTol)
		})
	}
	t.Run("swiglu", func(t *testing.T) {
		loss := func() float64 { swigluForward(out, x, up, N); return dot64(out, R) }
		dg, du := make([]float64, N), make([]float64, N)
		swigluBackward(dg, du, R, x, up, N)
		checkFD(t, loss, []gradCase{{"gate", x, dg}, {"up", up, du}}, fdTol)
	})
}

func TestGradSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	N, C := 3, 7
	x := randF64(rng, N*C, 3)
	R := randF64(rng, N*C, 1)
	out := make([]float64, N*C)
	loss := func() float64 { softmaxForward(out, x, N, C); return dot64(out, R) }
	loss()
	dx := make([]float64, N*C)
	softmaxBackward(dx, R, out, N, C)
	checkFD(t, loss, []gradCase{{"x", x, dx}}, fdTol)
}

func TestGradRoPE(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	N, NH, HS := 3, 2, 8
	pos := []int32{0, 5, 1000}
	for _, c := range []struct {
		name        string
		dims        int
		interleaved bool
	}{{"neox", 8, false}, {"interleaved", 8, true}, {"partial", 4, false}} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRoPE(HS, c.dims, 10000, nil, c.interleaved)
			if err != nil {
				t.Fatal(err)
			}
			x := randF64(rng, N*NH*HS, 1)
			R := randF64(rng, N*NH*HS, 1)
			out := make([]float64, N*NH*HS)
			cs := make([]float64, N*r.Dims)
			ropeAngles(cs, pos, r)
			loss := func() float64 { rope(out, x, cs, N, NH, r, 1, false); return dot64(out, R) }
			dx := randF64(rng, N*NH*HS, 1) // accumulates onto existing values
			base := append([]float64(nil), dx...)
			rope(dx, R, cs, N, NH, r, -1, true)
			for i := range dx {
				dx[i] -= base[i]
			}
			checkFD(t, loss, []gradCase{{"x", x, dx}}, fdTol)
		})
	}
}

func TestGradAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct {
		name string
		a    AttnShape
	}{
		{"causal", AttnShape{B: 2, T: 4, NH: 2, NKV: 2, HS: 3, Causal: true}},
		{"bidirectional", AttnShape{B: 2, T: 3, NH: 2, NKV: 2, HS: 4}},
		{"gqa", AttnShape{B: 1, T: 4, NH: 4, NKV: 2, HS: 3, Causal: true, Scale: 0.7}},
		{"padded", AttnShape{B: 2, T: 4, NH: 2, NKV: 1, HS: 3, Lens: []int{2, 4}}},
		{"cache offset", AttnShape{B: 1, T: 2, TK: 5, NH: 2, NKV: 1, HS: 3, Causal: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &c.a
			B, T, TK, NH, NKV, HS := a.B, a.T, a.tk(), a.NH, a.NKV, a.HS
			q := randF64(rng, B*T*NH*HS, 1)
			k := randF64(rng, B*TK*NKV*HS, 1)
			v := randF64(rng, B*TK*NKV*HS, 1)
			R := randF64(rng, B*T*NH*HS, 1)
			out := make([]float64, B*T*NH*HS)
			probs := make([]float64, B*NH*T*TK)
			loss := func() float64 { attentionForward(out, probs, q, k, v, a); return dot64(out, R) }
			loss()
			dq, dk, dv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
			attentionBackward(dq, dk, dv, R, probs, q, k, v, a)
			checkFD(t, loss, []gradCase{{"q", q, dq}, {"k", k, dk}, {"v", v, dv}}, fdTol)
		})
	}
}

func TestGradCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	BT, V := 4, 6
	logits := randF64(rng, BT*V, 2)
	targets := []int32{2, IgnoreIndex, 5, 0}
	losses := make([]float64, BT)
	loss := func() float64 {
		s, n := crossEntropyForward(losses, logits, targets, BT, V, IgnoreIndex)
		return s / float64(n)
	}
	_, n := crossEntropyForward(losses, logits, targets, BT, V, IgnoreIndex)
	dl := make([]float64, BT*V)
	crossEntropyBackward(dl, logits, targets, BT, V, IgnoreIndex, 1/float64(n))
	checkFD(t, loss, []gradCase{{"logits", logits, dl}}, fdTol)
}
