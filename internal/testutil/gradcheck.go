package testutil

import "math"

// GradCheck compares the analytic gradient g of loss with respect to x
// against central finite differences of step h at the entries idx (every
// entry when idx is nil). It returns the cosine similarity of the two and
// the relative error of their norms; x is restored after each entry.
func GradCheck(x, g []float32, idx []int, loss func() float64, h float32) (cos, rel float64) {
	var dot, ff, gg float64
	check := func(i int) {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		fd := (lp - lm) / float64(2*h)
		dot += fd * float64(g[i])
		ff += fd * fd
		gg += float64(g[i]) * float64(g[i])
	}
	if idx == nil {
		for i := range g {
			check(i)
		}
	} else {
		for _, i := range idx {
			check(i)
		}
	}
	return dot / math.Sqrt(ff*gg), math.Abs(math.Sqrt(gg)-math.Sqrt(ff)) / math.Sqrt(ff)
}
