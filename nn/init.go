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
