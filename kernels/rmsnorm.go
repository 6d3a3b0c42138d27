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
		for i := lo; i < hi; i++ {
			x := inp[i*C : (i+1)*C]
			r := float32(1 / math.Sqrt(float64(vSumSqDiff(x, 0)/float32(C)+eps)))
			vNormFwd(out[i*C:(i+1)*C], x, w, nil, 0, r)
			rstd[i] = r
		}
	})
}

// RMSNormBackward accumulates the gradients of RMSNormForward: with
// n = x·rstd, dinp += rstd·(dout·w - n·mean(dout·w·n)), dw += Σ dout·n.
// dinp (N, C), dw (C), dout (N, C), inp (N, C), w (C), rstd (N). A nil dinp
// or dw is skipped.
func RMSNormBackward(dinp, dw, dout, inp, w, rstd []float32, N, C int) {
	if dinp != nil {
		ParallelFor(N, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g, x := dout[i*C:(i+1)*C], inp[i*C:(i+1)*C]
				_, sdnn := vNormBwdDots(g, w, x, 0, rstd[i])
				vNormBwd(dinp[i*C:(i+1)*C], g, w, x, 0, rstd[i], 0, sdnn/float32(C))
			}
		})
	}
	normParamGrads(dw, nil, dout, inp, nil, rstd, N, C)
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
