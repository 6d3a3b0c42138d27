package kernels

import "math"

// RMSNormForward scales each row by the reciprocal of its root mean square
// and applies the weight: out = x·rstd·w, rstd = 1/sqrt(mean(x²) + eps)
// (Zhang & Sennrich 2019, as Llama's RMSNorm). Rows may be any width: Qwen3
// runs it per head on q and k with C = HS and N = B·T·NH.
// out (N, C), rstd (N), inp (N, C), w (C). rstd is saved for backward.
// out may alias inp.
func RMSNormForward(out, rstd, inp, w []float32, N, C int, eps float32) {
	ParallelFor(N, func(lo, hi int) {
		rmsNormForward(out[lo*C:hi*C], rstd[lo:hi], inp[lo*C:hi*C], w, hi-lo, C, eps)
	})
}

// RMSNormBackward accumulates the gradients of RMSNormForward: with
// n = x·rstd, dinp += rstd·(dout·w - n·mean(dout·w·n)), dw += Σ dout·n.
// dinp (N, C), dw (C), dout (N, C), inp (N, C), w (C), rstd (N). A nil dinp
// or dw is skipped.
func RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, N, C int) {
	if dinp != nil {
		ParallelFor(N, func(lo, hi int) {
			rmsNormBackward(dinp[lo*C:hi*C], nil, dout[lo*C:hi*C], inp[lo*C:hi*C], w, rstd[lo:hi], hi-lo, C)
		})
	}
	if dw != nil {
		rmsNormBackward(nil, dw, dout, inp, w, rstd, N, C)
	}
}

func rmsNormForward[F float](out, rstd, inp, w []F, N, C int, eps F) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		var s F
		for _, v := range x {
			s += v * v
		}
		r := 1 / F(math.Sqrt(float64(s/F(C)+eps)))
		o := out[i*C : (i+1)*C]
		for j, v := range x {
			o[j] = v * r * w[j]
		}
		rstd[i] = r
	}
}

func rmsNormBackward[F float](dinp, dw, dout, inp, w, rstd []F, N, C int) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		g := dout[i*C : (i+1)*C]
		r := rstd[i]
		if dw != nil {
			for j, v := range x {
				dw[j] += v * r * g[j]
			}
		}
		if dinp == nil {
			continue
		}
		var dot F
		for j, v := range x {
			dot += g[j] * w[j] * v * r
		}
		dot /= F(C)
		d := dinp[i*C : (i+1)*C]
		for j, v := range x {
			d[j] += r * (g[j]*w[j] - v*r*dot)
		}
	}
}
