package kernels

// Row helpers for the norms and the residual: the AVX2 loop over the
// multiple-of-8 body (vecmath_amd64.s), Go for the tail and on other
// platforms. The float32 sums of the assembly run in 8 lanes.

// vSum returns Σ x.
func vSum(x []float32) float32 {
	var s float32
	if useVecAVX2 {
		n := len(x) &^ 7
		s = sumAVX2(x[:n])
		x = x[n:]
	}
	for _, v := range x {
		s += v
	}
	return s
}

// vSumSqDiff returns Σ (x-m)².
func vSumSqDiff(x []float32, m float32) float32 {
	var s float32
	if useVecAVX2 {
		n := len(x) &^ 7
		s = sumSqDiffAVX2(x[:n], m)
		x = x[n:]
	}
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return s
}

// vNormFwd writes out = (x-m)·r·w (+ b when b is not nil); out, x, w, b (C).
func vNormFwd(out, x, w, b []float32, m, r float32) {
	out, w = out[:len(x)], w[:len(x)]
	if b != nil {
		b = b[:len(x)]
	}
	if useVecAVX2 {
		n := len(x) &^ 7
		if b != nil {
			normFwdBiasAVX2(out[:n], x[:n], w[:n], b[:n], m, r)
			b = b[n:]
		} else {
			normFwdAVX2(out[:n], x[:n], w[:n], m, r)
		}
		out, x, w = out[n:], x[n:], w[n:]
	}
	for i, v := range x {
		o := (v - m) * r * w[i]
		if b != nil {
			o += b[i]
		}
		out[i] = o
	}
}

// vNormBwdDots returns Σ g·w and Σ g·w·(x-m)·r; g, w, x (C).
func vNormBwdDots(g, w, x []float32, m, r float32) (sdn, sdnn float32) {
	g, w = g[:len(x)], w[:len(x)]
	if useVecAVX2 {
		n := len(x) &^ 7
		sdn, sdnn = normBwdDotsAVX2(g[:n], w[:n], x[:n], m, r)
		g, w, x = g[n:], w[n:], x[n:]
	}
	for i, v := range x {
		dn := g[i] * w[i]
		sdn += dn
		sdnn += dn * (v - m) * r
	}
	return sdn, sdnn
}

// vNormBwd adds r·(g·w - a - (x-m)·r·c) to d; d, g, w, x (C).
func vNormBwd(d, g, w, x []float32, m, r, a, c float32) {
	d, g, w = d[:len(x)], g[:len(x)], w[:len(x)]
	if useVecAVX2 {
		n := len(x) &^ 7
		normBwdAVX2(d[:n], g[:n], w[:n], x[:n], m, r, a, c)
		d, g, w, x = d[n:], g[n:], w[n:], x[n:]
	}
	for i, v := range x {
		d[i] += r * (g[i]*w[i] - a - (v-m)*r*c)
	}
}

// vNormDw adds g·(x-m)·r to dw; dw, g, x (C).
func vNormDw(dw, g, x []float32, m, r float32) {
	dw, g = dw[:len(x)], g[:len(x)]
	if useVecAVX2 {
		n := len(x) &^ 7
		normDwAVX2(dw[:n], g[:n], x[:n], m, r)
		dw, g, x = dw[n:], g[n:], x[n:]
	}
	for i, v := range x {
		dw[i] += g[i] * (v - m) * r
	}
}

// vAddTo adds g to d; d, g (n).
func vAddTo(d, g []float32) {
	d = d[:len(g)]
	if useVecAVX2 {
		n := len(g) &^ 7
		addToAVX2(d[:n], g[:n])
		d, g = d[n:], g[n:]
	}
	for i, v := range g {
		d[i] += v
	}
}

// vAdd writes out = a + b; out, a, b (n).
func vAdd(out, a, b []float32) {
	out, b = out[:len(a)], b[:len(a)]
	if useVecAVX2 {
		n := len(a) &^ 7
		addAVX2(out[:n], a[:n], b[:n])
		out, a, b = out[n:], a[n:], b[n:]
	}
	for i, v := range a {
		out[i] = v + b[i]
	}
}
