package kernels

import "math"

// LayerNormForward normalises each row of inp to zero mean and unit
// variance (biased, as torch.nn.LayerNorm) and applies weight and bias:
// out = (x - mean)·rstd·w + b with rstd = 1/sqrt(var + eps).
// out (N, C), mean (N), rstd (N), inp (N, C), w (C), b (C). mean and rstd
// are saved for the backward pass. A nil b means no bias.
func LayerNormForward(out, mean, rstd, inp, w, b []float32, N, C int, eps float32) {
	ParallelFor(N, func(lo, hi int) {
		layerNormForward(out[lo*C:hi*C], mean[lo:hi], rstd[lo:hi], inp[lo*C:hi*C], w, b, hi-lo, C, eps)
	})
}

// LayerNormBackward accumulates the gradients of LayerNormForward (the
// llm.c derivation): with n = (x-mean)·rstd and dn = dout·w,
// dinp += rstd·(dn - mean(dn) - n·mean(dn·n)), dw += Σ dout·n, db += Σ dout.
// dinp (N, C), dw (C), db (C), dout (N, C), inp (N, C), w (C), mean (N),
// rstd (N). Nil dinp, dw or db are skipped.
func LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) {
	// dw and db sum over rows, so rows are split across threads only for
	// dinp; the parameter gradients run in one pass to stay deterministic.
	if dinp != nil {
		ParallelFor(N, func(lo, hi int) {
			layerNormBackward(dinp[lo*C:hi*C], nil, nil, dout[lo*C:hi*C], inp[lo*C:hi*C], w, mean[lo:hi], rstd[lo:hi], hi-lo, C)
		})
	}
	if dw != nil || db != nil {
		layerNormBackward(nil, dw, db, dout, inp, w, mean, rstd, N, C)
	}
}

func layerNormForward[F float](out, mean, rstd, inp, w, b []F, N, C int, eps F) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		var m F
		for _, v := range x {
			m += v
		}
		m /= F(C)
		var s F
		for _, v := range x {
			s += (v - m) * (v - m)
		}
		r := 1 / F(math.Sqrt(float64(s/F(C)+eps)))
		o := out[i*C : (i+1)*C]
		for j, v := range x {
			n := (v - m) * r
			o[j] = n * w[j]
			if b != nil {
				o[j] += b[j]
			}
		}
		mean[i], rstd[i] = m, r
	}
}

func layerNormBackward[F float](dinp, dw, db, dout, inp, w, mean, rstd []F, N, C int) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		g := dout[i*C : (i+1)*C]
		m, r := mean[i], rstd[i]
		if dw != nil || db != nil {
			for j, v := range x {
				if db != nil {
					db[j] += g[j]
				}
				if dw != nil {
					dw[j] += (v - m) * r * g[j]
				}
			}
		}
		if dinp == nil {
			continue
		}
		var dnMean, dnNMean F
		for j, v := range x {
			dn := g[j] * w[j]
			dnMean += dn
			dnNMean += dn * (v - m) * r
		}
		dnMean /= F(C)
		dnNMean /= F(C)
		d := dinp[i*C : (i+1)*C]
		for j, v := range x {
			n := (v - m) * r
			d[j] += r * (g[j]*w[j] - dnMean - n*dnNMean)
		}
	}
}
