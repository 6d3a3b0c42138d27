package llama

import (
	"fmt"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// Training: ForwardLoss saves every activation, Backward walks them in
// reverse (llm.c's gpt2_backward). Base weights are frozen, so only
// activation gradients flow through them; trainable LoRA wrappers in the
// slots accumulate their own gradients from their Backward calls.

// trainState is what ForwardLoss keeps for Backward; buffers are
// allocated once per (B, T) and reused.
type trainState struct {
	nn.TrainState
	acts Acts
	g    layerGrads
}

// layerGrads are one layer's gradient buffers, shared by every layer
// (they are consumed before the next layer down runs).
type layerGrads struct {
	dRes, dN         []float32 // (BT, C) gradient of Res1, of a norm output
	dAct, dGate, dUp []float32 // (BT, I)
	dAtt, dQ, dQr    []float32 // (BT, Q) attention output, q after RoPE, q before RoPE
	dK, dKr, dV      []float32 // (BT, KV)
}

func (m *Model) growGrads(s *trainState, N int) {
	c := &m.Config
	C, Q, KV, I := c.HiddenSize, c.NumHeads*c.HeadDim, c.KVDim(), c.IntermediateSize
	g, lg := nn.Grow, &s.g
	lg.dRes, lg.dN = g(lg.dRes, N*C), g(lg.dN, N*C)
	lg.dAct, lg.dGate, lg.dUp = g(lg.dAct, N*I), g(lg.dGate, N*I), g(lg.dUp, N*I)
	lg.dAtt, lg.dQ, lg.dQr = g(lg.dAtt, N*Q), g(lg.dQ, N*Q), g(lg.dQr, N*Q)
	lg.dK, lg.dKr, lg.dV = g(lg.dK, N*KV), g(lg.dKr, N*KV), g(lg.dV, N*KV)
}

// ForwardLoss runs ids (B, T) from position 0 saving every activation, and
// returns the summed cross-entropy of the positions whose target (B, T) is
// not -100 and their count (model.Trainable). The output projection runs
// fused with the loss in chunks of rows (nn.HeadLoss), which also leaves
// the gradient of the final norm's output for Backward.
func (m *Model) ForwardLoss(ids, targets []int32, B, T int) (float64, int, error) {
	return m.train().ForwardLoss(trainArch{m}, m.LMHead, ids, targets, B, T, m.Config.VocabSize)
}

// EvalLoss is ForwardLoss without the gradient the loss leaves for
// Backward (a validation set's loss): the same sum and count.
func (m *Model) EvalLoss(ids, targets []int32, B, T int) (float64, int, error) {
	return m.train().EvalLoss(trainArch{m}, m.LMHead, ids, targets, B, T, m.Config.VocabSize)
}

// Backward back-propagates scale·sum from the last ForwardLoss, mirroring
// ForwardTrain in reverse, and accumulates into the trainable layers'
// gradients (model.Trainable).
func (m *Model) Backward(scale float32) error {
	return m.train().Backward(trainArch{m}, scale)
}

// InputGrad returns the gradient (B·T, C) of the last Backward with
// respect to the embedding output, the first layer's input (for tests and
// diagnostics); nil before any Backward.
func (m *Model) InputGrad() []float32 {
	if m.tr == nil {
		return nil
	}
	return m.tr.DX
}

// trainArch is the Model as nn.TrainState drives it.
type trainArch struct{ m *Model }

func (t trainArch) Name() string   { return "llama" }
func (t trainArch) NumLayers() int { return len(t.m.Layers) }

func (t trainArch) CheckInput(ids []int32, B, T int) error {
	if T > t.m.Config.MaxPositions {
		return fmt.Errorf("llama: %d positions exceed the model's context length %d", T, t.m.Config.MaxPositions)
	}
	return t.m.checkInput(ids, B, T, nil, 0)
}

func (t trainArch) GrowTrain(B, T int, ckpt bool) {
	m, s := t.m, t.m.tr
	if ckpt {
		m.growActsN(&s.acts, B, T, 1, m.Config.NumLayers+1, true)
	} else {
		m.growActs(&s.acts, B, T, true)
	}
	m.growGrads(s, B*T)
}

func (t trainArch) ForwardHidden(ids, pos []int32, B, T int) []float32 {
	a := &t.m.tr.acts
	t.m.forwardHidden(a, ids, pos, B, T)
	return a.NF[:B*T*t.m.Config.HiddenSize]
}

func (t trainArch) FinalNormBackward(dx, dnf []float32, N int) {
	a := &t.m.tr.acts
	t.m.Norm.Backward(dx, dnf, a.X[len(t.m.Layers)], a.RstdF, N)
}

// RecomputeLayer recomputes the layer's activations from its saved input;
// the output lands in X[l+1], no longer needed above this layer.
func (t trainArch) RecomputeLayer(l int, pos []int32, B, T int) {
	m, a := t.m, &t.m.tr.acts
	lin := m.Layers[l].linears()
	nn.SetReplay(true, lin...)
	m.layerForward(l, a.layer(l), a.X[l+1], a.X[l], B, T, pos, nil)
	nn.SetReplay(false, lin...)
}

func (t trainArch) LayerBackward(l int, dx []float32, B, T int) {
	m, s := t.m, t.m.tr
	m.layerBackward(l, s.acts.layer(l), &s.g, dx, dx, s.acts.X[l], B, T)
}

// layerBackward is layerForward in reverse for layer li: given dout (BT, C)
// it writes dx (BT, C), the gradient of the layer's input x (BT, C); dx may
// be dout. Every Backward of a LinearLayer accumulates into a buffer
// cleared just before.
func (m *Model) layerBackward(li int, a *LayerActs, g *layerGrads, dx, dout, x []float32, B, T int) {
	c := &m.Config
	L := &m.Layers[li]
	N := B * T
	NH, NKV := c.NumHeads, c.NumKVHeads
	cs := m.angles(m.tr.Pos)

	// out = Res1 + Down: both receive dout.
	clear(g.dAct)
	L.Down.Backward(g.dAct, dout, a.Act, N)
	clear(g.dGate)
	clear(g.dUp)
	kernels.SwiGLUBackward(g.dGate, g.dUp, g.dAct, a.Gate, a.Up, N*c.IntermediateSize)
	clear(g.dN)
	L.Gate.Backward(g.dN, g.dGate, a.N2, N)
	L.Up.Backward(g.dN, g.dUp, a.N2, N)
	copy(g.dRes, dout)
	L.MLPNorm.Backward(g.dRes, g.dN, a.Res1, a.Rstd2, N)

	// Res1 = x + AttO: both receive dRes.
	clear(g.dAtt)
	L.O.Backward(g.dAtt, g.dRes, a.Att, N)
	clear(g.dQ)
	clear(g.dK)
	clear(g.dV)
	m.attn.Backward(g.dQ, g.dK, g.dV, g.dAtt, a.Probs, a.Q, a.K, a.V, B, T, true, nil)
	clear(g.dQr)
	clear(g.dKr)
	kernels.RoPEBackward(g.dQr, g.dQ, cs, N, NH, m.rope)
	kernels.RoPEBackward(g.dKr, g.dK, cs, N, NKV, m.rope)
	dq, dk := g.dQr, g.dKr // gradients of the projections' outputs
	if L.QNorm != nil {
		clear(g.dQ)
		clear(g.dK)
		L.QNorm.Backward(g.dQ, g.dQr, a.QPre, a.QRstd, N*NH)
		L.KNorm.Backward(g.dK, g.dKr, a.KPre, a.KRstd, N*NKV)
		dq, dk = g.dQ, g.dK
	}
	clear(g.dN)
	L.Q.Backward(g.dN, dq, a.N1, N)
	L.K.Backward(g.dN, dk, a.N1, N)
	L.V.Backward(g.dN, g.dV, a.N1, N)
	copy(dx, g.dRes)
	L.AttnNorm.Backward(dx, g.dN, x, a.Rstd1, N)
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
	return []nn.LinearLayer{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down}
}
