package optim

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// AdamW is torch.optim.AdamW (decoupled weight decay, bias-corrected
// moments) over a fixed list of parameters. The learning rate is given per
// step, from a Schedule.
type AdamW struct {
	Params      []Param
	Beta1       float64 // 0.9
	Beta2       float64 // 0.999
	Eps         float64 // 1e-8
	WeightDecay float64 // 0: none
	// M and V are the first and second moments (exp_avg and exp_avg_sq in
	// torch), one slice per parameter, of the parameter's length.
	M, V [][]float32
	// T is the number of updates taken so far (torch's state "step").
	T int
}

// NewAdamW returns an optimizer over params with torch's default betas and
// eps and the given weight decay, moments at zero.
func NewAdamW(params []Param, weightDecay float64) *AdamW {
	o := &AdamW{Params: params, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
	o.M = make([][]float32, len(params))
	o.V = make([][]float32, len(params))
	for i, p := range params {
		if len(p.G) != len(p.W) {
			panic(fmt.Sprintf("optim: parameter %s has %d values but %d gradients", p.Name, len(p.W), len(p.G)))
		}
		o.M[i] = make([]float32, len(p.W))
		o.V[i] = make([]float32, len(p.W))
	}
	return o
}

// Step applies one update with learning rate lr to every parameter from its
// gradient G.
func (o *AdamW) Step(lr float64) {
	o.T++
	h := kernels.AdamW{LR: float32(lr), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2),
		Eps: float32(o.Eps), WeightDecay: float32(o.WeightDecay)}
	for i, p := range o.Params {
		kernels.AdamWStep(p.W, p.G, o.M[i], o.V[i], len(p.W), o.T, h)
	}
}

// ZeroGrad sets every gradient to zero.
func ZeroGrad(params []Param) {
	for _, p := range params {
		clear(p.G)
	}
}

// grads lists the gradient slices of params.
func grads(params []Param) [][]float32 {
	g := make([][]float32, len(params))
	for i, p := range params {
		g[i] = p.G
	}
	return g
}

// GradNorm returns the global L2 norm of all gradients,
// sqrt(Σ over params of Σ g²).
func GradNorm(params []Param) float64 {
	return kernels.GradNorm(grads(params)...)
}

// ClipGradNorm scales all gradients by maxNorm/(norm + 1e-6) when that is
// below 1, as torch.nn.utils.clip_grad_norm_, and returns the norm before
// clipping. maxNorm <= 0 disables clipping (the norm is still returned).
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	if maxNorm <= 0 {
		return GradNorm(params)
	}
	return kernels.ClipGradNorm(maxNorm, grads(params)...)
}

// Count returns the number of values in params.
func Count(params []Param) int {
	n := 0
	for _, p := range params {
		n += len(p.W)
	}
	return n
}
