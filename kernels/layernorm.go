package kernels

import "math"

// LayerNormForward normalises each row of inp to zero mean and unit
// variance (biased, as torch.nn.LayerNorm) and applies weight and bias:
// out = (x - mean)·rstd·w + b with rstd = 1/sqrt(var + eps).
// out (N, C), mean (N), rstd (N), inp (N, C), w (C), b (C). mean and rstd
// are saved for the backward pass. A nil b means no bias.
func LayerNormForward(out, mean, rstd, inp, w, b []float32, N, C int, eps float32) {
	ParallelFor(N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*C : (i+1)*C]
			m := vSum(x) / float32(C)
			r := float32(1 / math.Sqrt(float64(vSumSqDiff(x, m)/float32(C)+eps)))
			vNormFwd(out[i*C:(i+1)*C], x, w, b, m, r)
			mean[i], rstd[i] = m, r
		}
	})
}

// LayerNormBackward accumulates the gradients of LayerNormForward (the
// llm.c derivation): with n = (x-mean)·rstd and dn = dout·w,
// dinp += rstd·(dn - mean(dn) - n·mean(dn·n)), dw += Σ dout·n, db += Σ dout.
// dinp (N, C), dw (C), db (C), dout (N, C), inp (N, C), w (C), mean (N),
// rstd (N). Nil dinp, dw or db are skipped.
func LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd []float32, N, C int) {
	if dinp != nil {
		ParallelFor(N, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g, x := dout[i*C:(i+1)*C], inp[i*C:(i+1)*C]
				sdn, sdnn := vNormBwdDots(g, w, x, mean[i], rstd[i])
				vNormBwd(dinp[i*C:(i+1)*C], g, w, x, mean[i], rstd[i], sdn/float32(C), sdnn/float32(C))
			}
		})
	}
	normParamGrads(dw, db, dout, inp, mean, rstd, N, C)
}

// normParamGrads accumulates dw += Σ_rows dout·(x-mean)·rstd and
// db += Σ_rows dout (mean nil means 0: RMSNorm). Threads split the
// channels, not the rows, so the sums keep their order: deterministic.
func normParamGrads(dw, db, dout, inp, mean, rstd []float32, N, C int) {
	if dw == nil && db == nil {
		return
	}
	ParallelFor((C+7)/8, func(lo, hi int) {
		c0, c1 := lo*8, min(hi*8, C)
		for i := 0; i < N; i++ {
			g := dout[i*C+c0 : i*C+c1]
			if dw != nil {
				var m float32
				if mean != nil {
					m = mean[i]
				}
				vNormDw(dw[c0:c1], g, inp[i*C+c0:i*C+c1], m, rstd[i])
			}
			if db != nil {
				vAddTo(db[c0:c1], g)
			}
		}
	})
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
