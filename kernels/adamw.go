package kernels

import "math"

// AdamW holds the hyper-parameters of decoupled-weight-decay Adam
// (Loshchilov & Hutter 2019) with torch.optim.AdamW semantics.
type AdamW struct {
	LR          float32 // learning rate
	Beta1       float32 // first-moment decay, e.g. 0.9
	Beta2       float32 // second-moment decay, e.g. 0.999
	Eps         float32 // added to sqrt(v̂), e.g. 1e-8
	WeightDecay float32 // decoupled: p -= lr·wd·p before the update
}

// AdamWStep applies step t (counting from 1) to the parameters, as torch:
//
//	p -= lr·wd·p
//	m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//	p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
//
// p, g, m, v (N); m and v start at zero.
func AdamWStep(p, g, m, v []float32, N, t int, h AdamW) {
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(t))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(t))
	stepSize := float32(float64(h.LR) / bc1)
	rbc2 := float32(1 / math.Sqrt(bc2))
	decay := 1 - h.LR*h.WeightDecay
	b1, b2 := h.Beta1, h.Beta2
	p, g, m, v = p[:N], g[:N], m[:N], v[:N]
	vecChunks(N, func(lo, hi int) {
		if useVecAVX2 {
			n := (hi - lo) &^ 7
			adamWAVX2(p[lo:lo+n], g[lo:lo+n], m[lo:lo+n], v[lo:lo+n], b1, b2, 1-b1, 1-b2, decay, stepSize, rbc2, h.Eps)
			lo += n
		}
		for i := lo; i < hi; i++ {
			gi := g[i]
			mi := b1*m[i] + (1-b1)*gi
			vi := b2*v[i] + (1-b2)*gi*gi
			m[i], v[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))*rbc2 + h.Eps
			p[i] = p[i]*decay - stepSize*mi/denom
		}
	})
}

// GradNorm returns the global L2 norm of all gradients: float32 sums of
// squares over blocks of 4096, added up in float64.
func GradNorm(grads ...[]float32) float64 {
	var s float64
	for _, g := range grads {
		for len(g) > 0 {
			n := min(len(g), 4096)
			s += float64(vSumSqDiff(g[:n], 0))
			g = g[n:]
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales all gradients by maxNorm/(norm + 1e-6) when that is
// below 1 (torch.nn.utils.clip_grad_norm_) and returns the norm before
// clipping.
func ClipGradNorm(maxNorm float64, grads ...[]float32) float64 {
	norm := GradNorm(grads...)
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		c := float32(coef)
		for _, g := range grads {
			scaleInPlace(g, c)
		}
	}
	return norm
}
