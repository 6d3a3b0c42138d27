package nn

import (
	"fmt"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/tensor"
)

// LinearLayer is what a model calls for every projection: a *Linear, or a
// wrapper around one (LoRA). Models hold their projections in fields of
// this type and expose them as Slots, so lora.Apply can replace a layer in
// place without the architecture knowing.
type LinearLayer interface {
	// Forward writes y (N, Out) = x (N, In)·Wᵀ + b.
	Forward(y, x []float32, N int)
	// Backward accumulates dx (N, In) += dy (N, Out)·W for the x (N, In)
	// of the last Forward and, for trainable parameters (a LoRA wrapper),
	// their gradients; a nil dx is skipped. Frozen base weights get no dW.
	Backward(dx, dy, x []float32, N int)
	// Base returns the frozen base layer (the layer itself for *Linear).
	Base() *Linear
}

// Linear is y = x·Wᵀ + b with W (Out, In) row-major in float32, as
// torch.nn.Linear. FanInFanOut records that the checkpoint stores the
// weight transposed, (In, Out), as GPT-2's Conv1D does: W is transposed at
// load and must be transposed back when merging or exporting.
type Linear struct {
	In, Out     int
	W           []float32 // (Out, In)
	B           []float32 // (Out) or nil for no bias
	FanInFanOut bool
}

// NewLinear returns a zero Linear of the given size, with a bias when bias
// is set.
func NewLinear(in, out int, bias bool) *Linear {
	l := &Linear{In: in, Out: out, W: tensor.Weights(out * in)}
	if bias {
		l.B = make([]float32, out)
	}
	return l
}

// Forward writes y (N, Out) = x (N, In)·Wᵀ + b.
func (l *Linear) Forward(y, x []float32, N int) {
	if len(x) < N*l.In || len(y) < N*l.Out {
		panic(fmt.Sprintf("nn.Linear(%d→%d): x has %d values, y %d, for N=%d", l.In, l.Out, len(x), len(y), N))
	}
	if N <= gemvMaxRows {
		gemvBT(y, x, l.W, l.B, N, l.In, l.Out)
		return
	}
	kernels.MatMulBT(y, x, l.W, N, l.In, l.Out, false)
	if l.B != nil {
		AddBias(y, l.B, N, l.Out)
	}
}

// Base returns l.
func (l *Linear) Base() *Linear { return l }

// NumParams returns the number of weights and biases.
func (l *Linear) NumParams() int { return len(l.W) + len(l.B) }

// AddBias adds b (C) to every row of y (N, C).
func AddBias(y, b []float32, N, C int) {
	kernels.ParallelFor(N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.AddTo(y[i*C:(i+1)*C], b[:C])
		}
	})
}

// Slot is a named place in a model holding a linear layer. Name is the
// module path as Hugging Face and PEFT name it ("model.layers.0.self_attn.q_proj",
// "transformer.h.0.attn.c_attn"); Layer points at the model's field, so
// *Layer = wrapper replaces the layer in place. Head marks the output
// projection (lm_head), which PEFT's "all-linear" leaves out.
type Slot struct {
	Name  string
	Layer *LinearLayer
	Head  bool
}

// Replayer is a layer whose Forward draws random numbers (LoRA dropout).
// With Replay(true) its Forward repeats the previous call's draws, so a
// layer recomputed for gradient checkpointing reproduces its activations.
type Replayer interface {
	Replay(on bool)
}

// SetReplay calls Replay(on) on every layer that is a Replayer.
func SetReplay(on bool, layers ...LinearLayer) {
	for _, l := range layers {
		if r, ok := l.(Replayer); ok {
			r.Replay(on)
		}
	}
}
