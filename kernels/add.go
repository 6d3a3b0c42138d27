package kernels

// AddTo adds g to d on the calling thread; d, g (len(g)). For loops that
// are already parallel, such as adding a bias row by row.
func AddTo(d, g []float32) { vAddTo(d, g) }

// AddForward writes out = a + b (the residual connection); out, a, b (N).
// out may alias a or b.
func AddForward(out, a, b []float32, N int) {
	vecChunks(N, func(lo, hi int) { vAdd(out[lo:hi], a[lo:hi], b[lo:hi]) })
}

// AddBackward accumulates da += dout and db += dout; da, db, dout (N).
// A nil da or db is skipped.
func AddBackward(da, db, dout []float32, N int) {
	for _, d := range [2][]float32{da, db} {
		if d != nil {
			vecChunks(N, func(lo, hi int) { vAddTo(d[lo:hi], dout[lo:hi]) })
		}
	}
}

func addForward[F float](out, a, b []F, N int) {
	out, a, b = out[:N], a[:N], b[:N]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

func addBackward[F float](da, db, dout []F, N int) {
	dout = dout[:N]
	for _, d := range [2][]F{da, db} {
		if d == nil {
			continue
		}
		d = d[:N]
		for i, g := range dout {
			d[i] += g
		}
	}
}
