package nn

import "math/rand/v2"

// FillNormal sets every value of w to std·N(0, 1) from rng (random
// initialisation for benchmarks and tests).
func FillNormal(w []float32, std float64, rng *rand.Rand) {
	for i := range w {
		w[i] = float32(std * rng.NormFloat64())
	}
}

// Fill sets every value of w to v.
func Fill(w []float32, v float32) {
	for i := range w {
		w[i] = v
	}
}

// Grow returns buf resliced to n values, reallocating only when its
// capacity is short: buffers are allocated once per largest shape and
// reused across steps.
func Grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// GrowInt32 is Grow for int32 buffers (token ids, positions).
func GrowInt32(buf []int32, n int) []int32 {
	if cap(buf) < n {
		return make([]int32, n)
	}
	return buf[:n]
}

// GrowEach returns bufs resliced to n buffers of size floats each, keeping
// the buffers it has (the residual-stream buffers of a model's activations).
func GrowEach(bufs [][]float32, n, size int) [][]float32 {
	bufs = Resize(bufs, n)
	for i := range bufs {
		bufs[i] = Grow(bufs[i], size)
	}
	return bufs
}

// Resize returns s with n elements, keeping the first ones it has and
// appending zero values (per-layer activation sets).
func Resize[E any](s []E, n int) []E {
	for len(s) < n {
		var zero E
		s = append(s, zero)
	}
	return s[:n]
}

// Positions returns pos resliced to (B·T) and filled with 0..T-1 for every
// row: the positions of a whole-sequence (training) forward pass.
func Positions(pos []int32, B, T int) []int32 {
	pos = GrowInt32(pos, B*T)
	for i := range pos {
		pos[i] = int32(i % T)
	}
	return pos
}
