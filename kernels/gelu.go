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

// GELUErfForward writes out = x·Φ(x) = 0.5·x·(1 + erf(x/√2)); out, inp (N).
// out may be inp.
func GELUErfForward(out, inp []float32, N int) {
	out, inp = out[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		geluErfForward(out[lo:hi], inp[lo:hi], hi-lo)
	})
}

// GELUErfBackward accumulates dinp += dout·(Φ(x) + x·φ(x)); dinp, dout,
// inp (N).
func GELUErfBackward(dinp, dout, inp []float32, N int) {
	dinp, dout, inp = dinp[:N], dout[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		geluErfBackward(dinp[lo:hi], dout[lo:hi], inp[lo:hi], hi-lo)
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
