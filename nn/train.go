package nn

import (
	"errors"
	"fmt"
)

// TrainArch is what a causal language model supplies to TrainState: the
// parts of a training pass that depend on its architecture. Methods use
// the activations and gradient buffers the architecture keeps.
type TrainArch interface {
	// Name prefixes errors ("llama", "gpt2").
	Name() string
	// CheckInput returns an error naming what is wrong with ids (B, T) for
	// this model (out-of-range ids, more positions than its context).
	CheckInput(ids []int32, B, T int) error
	// NumLayers is the number of transformer layers.
	NumLayers() int
	// GrowTrain sizes the training activations for (B, T), keeping only
	// each layer's input when ckpt, and the gradient buffers for B·T rows.
	GrowTrain(B, T int, ckpt bool)
	// ForwardHidden runs the embedding, every layer and the final norm on
	// ids at positions pos, saving activations, and returns the final
	// norm's output (B·T, C).
	ForwardHidden(ids, pos []int32, B, T int) []float32
	// FinalNormBackward adds the gradient of the last layer's output for
	// the final norm's output gradient dnf to dx.
	FinalNormBackward(dx, dnf []float32, N int)
	// RecomputeLayer reruns layer l's forward from its saved input
	// (gradient checkpointing); the LoRA wrappers replay their dropout.
	RecomputeLayer(l int, pos []int32, B, T int)
	// LayerBackward turns dx, the gradient of layer l's output, into that
	// of its input, in place, accumulating the trainable gradients.
	LayerBackward(l int, dx []float32, B, T int)
}

// TrainState is the architecture-independent part of a training pass
// (model.Trainable): ForwardLoss runs the model and the loss and keeps
// what Backward needs; Backward walks the layers down, recomputing each
// first under gradient checkpointing. Buffers are reused across calls.
type TrainState struct {
	Ckpt bool    // gradient checkpointing for the next ForwardLoss
	Pos  []int32 // (B·T) positions 0..T-1 of every row
	// DX is the gradient of the residual stream, after Backward that of
	// the embedding output (the model's InputGrad).
	DX []float32

	B, T      int
	head      HeadScratch
	dNF       []float32 // (B·T, C) d(sum of losses)/d(final norm output), unscaled
	recompute bool      // the last ForwardLoss ran with Ckpt
	count     int       // counted targets of the last ForwardLoss
	ready     bool      // a ForwardLoss ran and no Backward consumed it yet
}

// ForwardLoss runs ids (B, T) from position 0 saving every activation and
// returns the summed cross-entropy over the targets (B, T) that are not
// -100 and their count. head (V, C) runs fused with the loss in chunks of
// rows (HeadLoss). On an error nothing runs, and Backward has nothing to
// follow.
func (s *TrainState) ForwardLoss(a TrainArch, head LinearLayer, ids, targets []int32, B, T, vocab int) (float64, int, error) {
	return s.forwardLoss(a, head, ids, targets, B, T, vocab, true)
}

// EvalLoss is ForwardLoss without the head's gradient, for a validation
// set: the same sum and count, and nothing for Backward.
func (s *TrainState) EvalLoss(a TrainArch, head LinearLayer, ids, targets []int32, B, T, vocab int) (float64, int, error) {
	return s.forwardLoss(a, head, ids, targets, B, T, vocab, false)
}

func (s *TrainState) forwardLoss(a TrainArch, head LinearLayer, ids, targets []int32, B, T, vocab int, grad bool) (float64, int, error) {
	s.ready = false
	if err := a.CheckInput(ids, B, T); err != nil {
		return 0, 0, err
	}
	if len(targets) != B*T {
		return 0, 0, fmt.Errorf("%s: %d targets for B=%d, T=%d", a.Name(), len(targets), B, T)
	}
	if err := CheckTargets(targets, vocab); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", a.Name(), err)
	}
	s.recompute = s.Ckpt
	a.GrowTrain(B, T, s.Ckpt)
	s.B, s.T = B, T
	N := B * T
	s.Pos = Positions(s.Pos, B, T)
	nf := a.ForwardHidden(ids, s.Pos, B, T)
	C := len(nf) / N
	if !grad {
		sum, count := HeadLoss(&s.head, head, nil, nf, targets, N, vocab)
		return sum, count, nil
	}
	s.dNF, s.DX = Grow(s.dNF, N*C), Grow(s.DX, N*C)
	clear(s.dNF)
	sum, count := HeadLoss(&s.head, head, s.dNF, nf, targets, N, vocab)
	s.ready, s.count = true, count
	return sum, count, nil
}

// Backward back-propagates scale·sum from the last ForwardLoss through the
// final norm and every layer, top down.
func (s *TrainState) Backward(a TrainArch, scale float32) error {
	if !s.ready {
		return errors.New(a.Name() + ": Backward without a ForwardLoss before it")
	}
	s.ready = false
	if s.count == 0 {
		// No counted target: the loss is a constant 0, every gradient is
		// zero (and a caller's scale 1/count would be infinite).
		return nil
	}
	B, T := s.B, s.T
	for i := range s.dNF {
		s.dNF[i] *= scale
	}
	clear(s.DX)
	a.FinalNormBackward(s.DX, s.dNF, B*T)
	for l := a.NumLayers() - 1; l >= 0; l-- {
		if s.recompute {
			a.RecomputeLayer(l, s.Pos, B, T)
		}
		a.LayerBackward(l, s.DX, B, T)
	}
	// The embeddings are frozen: the gradient stops at their output (DX).
	return nil
}
