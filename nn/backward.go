package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
)

// Backward passes of the shared layers. Base weights are frozen in loft's
// training (LoRA), so these compute only the gradient of the layer's input,
// accumulated (+=) into dx as kernels do; the trainable parameters live in
// wrappers (lora.Linear) that add their own gradients.

// Backward accumulates dx (N, In) += dy (N, Out)·W for y = x·Wᵀ + b. W and
// b are frozen: no dW, no db. x (N, In) is the forward input, unused here
// (a wrapper's Backward needs it). A nil dx is skipped.
func (l *Linear) Backward(dx, dy, x []float32, N int) {
	if dx == nil {
		return
	}
	if len(dx) < N*l.In || len(dy) < N*l.Out {
		panic(fmt.Sprintf("nn.Linear(%d→%d).Backward: dx has %d values, dy %d, for N=%d", l.In, l.Out, len(dx), len(dy), N))
	}
	kernels.MatMul(dx, dy, l.W, N, l.Out, l.In, true)
}

// Backward accumulates dx (N, C) += the gradient of Forward's input for
// dy (N, C); x (N, C) and rstd (N) are Forward's input and saved rstd. The
// weight is frozen (no dw).
func (n *RMSNorm) Backward(dx, dy, x, rstd []float32, N int) {
	kernels.RMSNormBackward(dx, nil, dy, x, n.W, rstd, N, len(n.W))
}

// Backward accumulates dx (N, C) += the gradient of Forward's input for
// dy (N, C); x (N, C), mean and rstd (N) as saved by Forward. Weight and
// bias are frozen.
func (n *LayerNorm) Backward(dx, dy, x, mean, rstd []float32, N int) {
	kernels.LayerNormBackward(dx, nil, nil, dy, x, n.W, mean, rstd, N, len(n.W))
}

// Backward accumulates dq (B, T, NH, HS), dk, dv (B, T, NKV, HS) from
// dout (B, T, NH, HS) and what Forward saved (probs) and read (q, k, v),
// with the same causal and lens. Nil gradients are skipped.
func (a *Attention) Backward(dq, dk, dv, dout, probs, q, k, v []float32, B, T int, causal bool, lens []int) {
	kernels.AttentionBackward(dq, dk, dv, dout, probs, q, k, v, &kernels.AttnShape{
		B: B, T: T, NH: a.NH, NKV: a.NKV, HS: a.HS, Causal: causal, Scale: a.Scale, Lens: lens})
}
