package kernels

import "math"

// GELU (Hendrycks & Gimpel 2016). The tanh form is GPT-2's:
// gelu(x) = 0.5·x·(1 + tanh(u)), u = sqrt(2/π)·(x + 0.044715·x³), which we
// evaluate as x·σ(2u) since 1 + tanh(u) = 2σ(2u): no cancellation and a
// single exp. The erf form is BERT's exact gelu(x) = x·Φ(x).

const (
	geluA     = 0.044715
	sqrt2OvPi = 0.7978845608028654 // sqrt(2/π)
)

// GELUTanhForward writes out = gelu_tanh(inp); out, inp (N). out may be inp.
func GELUTanhForward(out, inp []float32, N int) {
	out, inp = out[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		o, x := out[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			geluTanhFwdAVX2(o[:n], x[:n])
			o, x = o[n:], x[n:]
		}
		for i, v := range x {
			o[i] = v * sigmoid32(2*sqrt2OvPi*v*(1+geluA*v*v))
		}
	})
}

// GELUTanhBackward accumulates dinp += dout·gelu_tanh'(inp); dinp, dout,
// inp (N). With s = σ(2u): gelu' = s + 2·x·s·(1-s)·u'.
func GELUTanhBackward(dinp, dout, inp []float32, N int) {
	dinp, dout, inp = dinp[:N], dout[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		d, g, x := dinp[lo:hi], dout[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			geluTanhBwdAVX2(d[:n], g[:n], x[:n])
			d, g, x = d[n:], g[n:], x[n:]
		}
		for i, v := range x {
			v2 := v * v
			s := sigmoid32(2 * sqrt2OvPi * v * (1 + geluA*v2))
			du := sqrt2OvPi * (1 + 3*geluA*v2)
			d[i] += g[i] * (s + 2*v*s*(1-s)*du)
		}
	})
}

// The float32 erf GELU uses Abramowitz & Stegun 7.1.26 for the normal
// CDF: erfc(z) ≈ (a1·t + ... + a5·t⁵)·e^{-z²}, t = 1/(1 + p·z), z >= 0,
// absolute error below 1.5e-7; with z = |x|/√2, e^{-z²} = e^{-x²/2} is
// also the Gaussian density's exponential, shared by the backward pass.
const (
	erfP   = 0.3275911
	erfA1  = 0.254829592
	erfA2  = -0.284496736
	erfA3  = 1.421413741
	erfA4  = -1.453152027
	erfA5  = 1.061405429
	invSq2 = 0.7071067811865476 // 1/√2
	invS2P = 0.3989422804014327 // 1/√(2π)
)

// normCDF32 returns Φ(x) and e^{-x²/2}.
func normCDF32(x float32) (cdf, e float32) {
	a := x
	if a < 0 {
		a = -a
	}
	t := 1 / (1 + erfP*invSq2*a)
	e = exp32(-0.5 * x * x)
	q := 0.5 * t * (erfA1 + t*(erfA2+t*(erfA3+t*(erfA4+t*erfA5)))) * e // Φ(-|x|)
	if x < 0 {
		return q, e
	}
	return 1 - q, e
}

// GELUErfForward writes out = x·Φ(x) = 0.5·x·(1 + erf(x/√2)); out, inp (N).
// out may be inp.
func GELUErfForward(out, inp []float32, N int) {
	out, inp = out[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		o, x := out[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			geluErfFwdAVX2(o[:n], x[:n])
			o, x = o[n:], x[n:]
		}
		for i, v := range x {
			c, _ := normCDF32(v)
			o[i] = v * c
		}
	})
}

// GELUErfBackward accumulates dinp += dout·(Φ(x) + x·φ(x)); dinp, dout,
// inp (N).
func GELUErfBackward(dinp, dout, inp []float32, N int) {
	dinp, dout, inp = dinp[:N], dout[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		d, g, x := dinp[lo:hi], dout[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			geluErfBwdAVX2(d[:n], g[:n], x[:n])
			d, g, x = d[n:], g[n:], x[n:]
		}
		for i, v := range x {
			c, e := normCDF32(v)
			d[i] += g[i] * (c + v*invS2P*e)
		}
	})
}

// geluTanhForward is the reference, in float64 with math.Tanh.
func geluTanhForward[F float](out, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		out[i] = F(0.5 * x * (1 + math.Tanh(sqrt2OvPi*(x+geluA*x*x*x))))
	}
}

func geluTanhBackward[F float](dinp, dout, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		t := math.Tanh(sqrt2OvPi * (x + geluA*x*x*x))
		d := 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OvPi*(1+3*geluA*x*x)
		dinp[i] += F(float64(dout[i]) * d)
	}
}

func geluErfForward[F float](out, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		out[i] = F(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
	}
}

func geluErfBackward[F float](dinp, dout, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
		pdf := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		dinp[i] += F(float64(dout[i]) * (cdf + x*pdf))
	}
}

// vecChunks runs fn over [0, n) split across threads when n is large
// enough to pay for the goroutines, else in one call.
func vecChunks(n int, fn func(lo, hi int)) {
	const grain = 1 << 14
	if n < 2*grain {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	blocks := (n + grain - 1) / grain
	ParallelFor(blocks, func(lo, hi int) {
		fn(lo*grain, min(hi*grain, n))
	})
}
