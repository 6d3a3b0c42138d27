package gpt2

import (
	"fmt"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// Training: ForwardLoss saves every activation, Backward walks them in
// reverse (llm.c's gpt2_backward). Base weights, the embeddings and the
// LayerNorms are frozen, so only activation gradients flow through them;
// LoRA wrappers in the slots accumulate their own gradients.

// trainState is what ForwardLoss keeps for Backward.
type trainState struct {
	nn.TrainState
	acts Acts
	g    layerGrads
}

// layerGrads are one block's gradient buffers, shared by every block.
type layerGrads struct {
	dRes, dLN        []float32 // (BT, C) gradient of Res1, of a LayerNorm output
	dGelu, dFC       []float32 // (BT, I)
	dAtt, dQ, dK, dV []float32 // (BT, C)
	dQKV             []float32 // (BT, 3C)
}

func (m *Model) growGrads(s *trainState, N int) {
	C, I := m.Config.NEmbd, m.Config.Intermediate()
	g, lg := nn.Grow, &s.g
	lg.dRes, lg.dLN = g(lg.dRes, N*C), g(lg.dLN, N*C)
	lg.dGelu, lg.dFC = g(lg.dGelu, N*I), g(lg.dFC, N*I)
	lg.dAtt, lg.dQ, lg.dK, lg.dV = g(lg.dAtt, N*C), g(lg.dQ, N*C), g(lg.dK, N*C), g(lg.dV, N*C)
	lg.dQKV = g(lg.dQKV, 3*N*C)
}

// ForwardLoss runs ids (B, T) from position 0 saving every activation and
// returns the summed cross-entropy over targets (B, T) that are not -100,
// and their count (model.Trainable). The head, tied or not, runs fused
// with the loss in chunks of rows (nn.HeadLoss) through LMHead, never
// WTE directly: the gradient into ln_f goes back through an untied
// head's own weight.
func (m *Model) ForwardLoss(ids, targets []int32, B, T int) (float64, int, error) {
	return m.train().ForwardLoss(trainArch{m}, m.LMHead, ids, targets, B, T, m.Config.VocabSize)
}

// EvalLoss is ForwardLoss without the gradient the loss leaves for
// Backward (a validation set's loss): the same sum and count.
func (m *Model) EvalLoss(ids, targets []int32, B, T int) (float64, int, error) {
	return m.train().EvalLoss(trainArch{m}, m.LMHead, ids, targets, B, T, m.Config.VocabSize)
}

// Backward back-propagates scale·sum from the last ForwardLoss, mirroring
// ForwardTrain in reverse (model.Trainable).
func (m *Model) Backward(scale float32) error {
	return m.train().Backward(trainArch{m}, scale)
}

// trainArch is the Model as nn.TrainState drives it.
type trainArch struct{ m *Model }

func (t trainArch) Name() string   { return "gpt2" }
func (t trainArch) NumLayers() int { return len(t.m.Layers) }

func (t trainArch) CheckInput(ids []int32, B, T int) error {
	if err := t.m.checkInput(ids, B, T, nil, 0); err != nil {
		return err
	}
	if T > t.m.Config.NPositions {
		return fmt.Errorf("gpt2: %d positions exceed n_positions %d", T, t.m.Config.NPositions)
	}
	return nil
}

func (t trainArch) GrowTrain(B, T int, ckpt bool) {
	m, s := t.m, t.m.tr
	if ckpt {
		m.growActsN(&s.acts, B, T, 1, m.Config.NLayer+1, true)
	} else {
		m.growActs(&s.acts, B, T, true)
	}
	m.growGrads(s, B*T)
}

func (t trainArch) ForwardHidden(ids, pos []int32, B, T int) []float32 {
	a := &t.m.tr.acts
	t.m.forwardHidden(a, ids, pos, B, T)
	return a.LNF[:B*T*t.m.Config.NEmbd]
}

func (t trainArch) FinalNormBackward(dx, dnf []float32, N int) {
	a := &t.m.tr.acts
	t.m.LNF.Backward(dx, dnf, a.X[len(t.m.Layers)], a.MeanF, a.RstdF, N)
}

// RecomputeLayer recomputes the layer's activations from its saved input;
// the output lands in X[l+1], no longer needed above this layer.
func (t trainArch) RecomputeLayer(l int, pos []int32, B, T int) {
	m, a := t.m, &t.m.tr.acts
	lin := m.Layers[l].linears()
	nn.SetReplay(true, lin...)
	m.layerForward(l, a.layer(l), a.X[l+1], a.X[l], B, T, nil)
	nn.SetReplay(false, lin...)
}

func (t trainArch) LayerBackward(l int, dx []float32, B, T int) {
	m, s := t.m, t.m.tr
	m.layerBackward(l, s.acts.layer(l), &s.g, dx, dx, s.acts.X[l], B, T)
}

// InputGrad returns the gradient (B·T, C) of the last Backward with
// respect to the embedding output wte[ids] + wpe[pos]; nil before any
// Backward.
func (m *Model) InputGrad() []float32 {
	if m.tr == nil {
		return nil
	}
	return m.tr.DX
}

func (m *Model) geluBackward(dinp, dout, inp []float32, n int) {
	if m.Config.Activation == "gelu" {
		kernels.GELUErfBackward(dinp, dout, inp, n)
	} else {
		kernels.GELUTanhBackward(dinp, dout, inp, n)
	}
}

// layerBackward is layerForward in reverse for block li: given dout (BT,
// C) it writes dx (BT, C), the gradient of the block's input x; dx may be
// dout.
func (m *Model) layerBackward(li int, a *LayerActs, g *layerGrads, dx, dout, x []float32, B, T int) {
	L := &m.Layers[li]
	N, C, I := B*T, m.Config.NEmbd, m.Config.Intermediate()

	// out = Res1 + FCO: both receive dout.
	// The GELU output is shared between layers (see growActsN): recompute
	// this layer's, the input a LoRA-adapted mlp.c_proj needs.
	m.gelu(a.Gelu, a.FC, N*I)
	clear(g.dGelu)
	L.FCProj.Backward(g.dGelu, dout, a.Gelu, N)
	clear(g.dFC)
	m.geluBackward(g.dFC, g.dGelu, a.FC, N*I)
	clear(g.dLN)
	L.FC.Backward(g.dLN, g.dFC, a.LN2, N)
	copy(g.dRes, dout)
	L.LN2.Backward(g.dRes, g.dLN, a.Res1, a.Mean2, a.Rstd2, N)

	// Res1 = x + AttO: both receive dRes.
	clear(g.dAtt)
	L.CProj.Backward(g.dAtt, g.dRes, a.Att, N)
	clear(g.dQ)
	clear(g.dK)
	clear(g.dV)
	m.attn.Backward(g.dQ, g.dK, g.dV, g.dAtt, a.Probs, a.Q, a.K, a.V, B, T, true, nil)
	for i := 0; i < N; i++ {
		r := g.dQKV[i*3*C : (i+1)*3*C]
		copy(r[:C], g.dQ[i*C:(i+1)*C])
		copy(r[C:2*C], g.dK[i*C:(i+1)*C])
		copy(r[2*C:], g.dV[i*C:(i+1)*C])
	}
	clear(g.dLN)
	L.CAttn.Backward(g.dLN, g.dQKV, a.LN1, N)
	copy(dx, g.dRes)
	L.LN1.Backward(dx, g.dLN, x, a.Mean1, a.Rstd1, N)
}

func (m *Model) train() *trainState {
	if m.tr == nil {
		m.tr = &trainState{}
	}
	return m.tr
}

// SetGradCheckpoint turns gradient checkpointing on or off for the next
// ForwardLoss: only each layer's input is kept, and Backward recomputes a
// layer's activations (LoRA dropout masks replayed) just before its
// backward, one more forward pass for the memory of one layer's
// activations instead of all of them. Gradients are the same either way.
func (m *Model) SetGradCheckpoint(on bool) { m.train().Ckpt = on }

// linears returns the layer's projections.
func (l *Layer) linears() []nn.LinearLayer {
	return []nn.LinearLayer{l.CAttn, l.CProj, l.FC, l.FCProj}
}
