package kernels

import "math"

// SiLU (swish) silu(x) = x·σ(x), and SwiGLU (Shazeer 2020) as Llama's MLP
// uses it: out = silu(gate)·up.

// SiLUForward writes out = x·σ(x); out, inp (N). out may be inp.
func SiLUForward(out, inp []float32, N int) {
	out, inp = out[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		o, x := out[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			siluFwdAVX2(o[:n], x[:n])
			o, x = o[n:], x[n:]
		}
		for i, v := range x {
			o[i] = v * sigmoid32(v)
		}
	})
}

// SiLUBackward accumulates dinp += dout·σ(x)·(1 + x·(1-σ(x))); dinp, dout,
// inp (N).
func SiLUBackward(dinp, dout, inp []float32, N int) {
	dinp, dout, inp = dinp[:N], dout[:N], inp[:N]
	vecChunks(N, func(lo, hi int) {
		d, g, x := dinp[lo:hi], dout[lo:hi], inp[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			siluBwdAVX2(d[:n], g[:n], x[:n])
			d, g, x = d[n:], g[n:], x[n:]
		}
		for i, v := range x {
			s := sigmoid32(v)
			d[i] += g[i] * s * (1 + v*(1-s))
		}
	})
}

// SwiGLUForward writes out = silu(gate)·up; out, gate, up (N). out may
// alias gate or up.
func SwiGLUForward(out, gate, up []float32, N int) {
	out, gate, up = out[:N], gate[:N], up[:N]
	vecChunks(N, func(lo, hi int) {
		o, x, u := out[lo:hi], gate[lo:hi], up[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			swigluFwdAVX2(o[:n], x[:n], u[:n])
			o, x, u = o[n:], x[n:], u[n:]
		}
		for i, v := range x {
			o[i] = v * sigmoid32(v) * u[i]
		}
	})
}

// SwiGLUBackward accumulates dgate += dout·up·silu'(gate) and
// dup += dout·silu(gate); dgate, dup, dout, gate, up (N). A nil dgate or
// dup is skipped.
func SwiGLUBackward(dgate, dup, dout, gate, up []float32, N int) {
	dout, gate, up = dout[:N], gate[:N], up[:N]
	if dgate == nil || dup == nil {
		swigluBackward(dgate, dup, dout, gate, up, N)
		return
	}
	dgate, dup = dgate[:N], dup[:N]
	vecChunks(N, func(lo, hi int) {
		dg, du, g, x, u := dgate[lo:hi], dup[lo:hi], dout[lo:hi], gate[lo:hi], up[lo:hi]
		if useVecAVX2 {
			n := len(x) &^ 7
			swigluBwdAVX2(dg[:n], du[:n], g[:n], x[:n], u[:n])
			dg, du, g, x, u = dg[n:], du[n:], g[n:], x[n:], u[n:]
		}
		for i, v := range x {
			s := sigmoid32(v)
			dg[i] += g[i] * u[i] * s * (1 + v*(1-s))
			du[i] += g[i] * v * s
		}
	})
}

func siluForward[F float](out, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		out[i] = F(x / (1 + math.Exp(-x)))
	}
}

func siluBackward[F float](dinp, dout, inp []F, N int) {
	for i, v := range inp[:N] {
		x := float64(v)
		s := 1 / (1 + math.Exp(-x))
		dinp[i] += F(float64(dout[i]) * s * (1 + x*(1-s)))
	}
}

func swigluForward[F float](out, gate, up []F, N int) {
	for i, v := range gate[:N] {
		x := float64(v)
		out[i] = F(x / (1 + math.Exp(-x)) * float64(up[i]))
	}
}

func swigluBackward[F float](dgate, dup, dout, gate, up []F, N int) {
	for i, v := range gate[:N] {
		x := float64(v)
		s := 1 / (1 + math.Exp(-x))
		g := float64(dout[i])
		if dgate != nil {
			dgate[i] += F(g * float64(up[i]) * s * (1 + x*(1-s)))
		}
		if dup != nil {
			dup[i] += F(g * x * s)
		}
	}
}
