package kernels

import "math"

// SoftmaxForward writes out[i] = softmax(inp[i]) for each row, subtracting
// the row maximum first so exp never overflows. out (N, C), inp (N, C); out
// may be inp.
func SoftmaxForward(out, inp []float32, N, C int) {
	ParallelFor(N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			softmaxRow(out[i*C:(i+1)*C], inp[i*C:(i+1)*C], 1)
		}
	})
}

// SoftmaxBackward accumulates the softmax gradient from the saved output:
// dinp += out·(dout - Σ dout·out). dinp (N, C), dout (N, C), out (N, C).
func SoftmaxBackward(dinp, dout, out []float32, N, C int) {
	ParallelFor(N, func(lo, hi int) {
		softmaxBackward(dinp[lo*C:hi*C], dout[lo*C:hi*C], out[lo*C:hi*C], hi-lo, C)
	})
}

// softmaxRow writes dst = softmax(scale·src) for one row (dst may be src)
// with the vector exp, folding the scale into the exponent.
func softmaxRow(dst, src []float32, scale float32) {
	if len(src) == 0 {
		return
	}
	if scale <= 0 { // max(scale·x) is not scale·max(x): scale first
		if &dst[0] != &src[0] {
			copy(dst, src)
		}
		scaleInPlace(dst, scale)
		src, scale = dst, 1
	}
	m := maxOf(src)
	s := expAffine(dst, src, scale, scale*m)
	scaleInPlace(dst, float32(1/s))
}

// maxOf returns the largest element of x (len(x) > 0); NaN is ignored
// unless every element is NaN.
func maxOf(x []float32) float32 {
	if useVecAVX2 && len(x) >= 16 {
		n := len(x) &^ 7
		m := maxAVX2(x[:n])
		for _, v := range x[n:] {
			if v > m {
				m = v
			}
		}
		return m
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// expAffine writes dst = exp(a·src - b) and returns the sum of dst
// (accumulated in float64 in the Go path, in 8 float32 lanes in the
// assembly). dst (n), src (n); dst may be src.
func expAffine(dst, src []float32, a, b float32) float64 {
	dst = dst[:len(src)]
	var s float64
	if useVecAVX2 {
		n := len(src) &^ 7
		s = float64(expAffineAVX2(dst[:n], src[:n], a, b))
		dst, src = dst[n:], src[n:]
	}
	for i, v := range src {
		e := exp32(a*v - b)
		dst[i] = e
		s += float64(e)
	}
	return s
}

// scaleInPlace multiplies x by a.
func scaleInPlace(x []float32, a float32) {
	if useVecAVX2 {
		n := len(x) &^ 7
		scaleAVX2(x[:n], a)
		x = x[n:]
	}
	for i := range x {
		x[i] *= a
	}
}

// softmaxForward is the reference, in float64 with math.Exp.
func softmaxForward[F float](out, inp []F, N, C int) {
	for i := 0; i < N; i++ {
		x, o := inp[i*C:(i+1)*C], out[i*C:(i+1)*C]
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		for j, v := range x {
			o[j] = F(math.Exp(float64(v)-m) / s)
		}
	}
}

func softmaxBackward[F float](dinp, dout, out []F, N, C int) {
	for i := 0; i < N; i++ {
		g, y, d := dout[i*C:(i+1)*C], out[i*C:(i+1)*C], dinp[i*C:(i+1)*C]
		var dot F
		for j := range y {
			dot += g[j] * y[j]
		}
		for j := range y {
			d[j] += y[j] * (g[j] - dot)
		}
	}
}
