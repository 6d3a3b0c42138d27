package gpt2_test

import (
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/gpt2"
)

// TestBackwardInputFD checks the whole backward pass (ln_f, every block's
// MLP with tanh GELU, attention, fused c_attn, LayerNorms, the tied head
// with cross-entropy) by the gradient of the loss with respect to the
// position embeddings (not tied to the head), against central finite
// differences.
func TestBackwardInputFD(t *testing.T) {
	b, err := model.Load("../../testdata/ref/gpt2-tiny", model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(*gpt2.Model)
	const B, T = 2, 6
	V, C := m.Config.VocabSize, m.Config.NEmbd
	ids := make([]int32, B*T)
	targets := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32((i*37 + 5) % V)
		targets[i] = int32((i*53 + 11) % V)
	}
	targets[T-1] = kernels.IgnoreIndex
	const scale = 0.25
	if _, _, err := m.ForwardLoss(ids, targets, B, T); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(scale); err != nil {
		t.Fatal(err)
	}
	// wpe row p receives the gradient of every row's position p.
	dX := m.InputGrad()
	dWPE := make([]float32, T*C)
	for b := 0; b < B; b++ {
		for i := range dWPE {
			dWPE[i] += dX[b*T*C+i]
		}
	}
	loss := func() float64 {
		sum, _, err := m.ForwardLoss(ids, targets, B, T)
		if err != nil {
			t.Fatal(err)
		}
		return scale * sum
	}
	cos, rel := testutil.GradCheck(m.WPE.W, dWPE, nil, loss, 1e-2)
	t.Logf("%d entries: cosine %.6f, norm relative error %.2g", len(dWPE), cos, rel)
	if !(cos > 0.999) || !(rel < 1e-2) {
		t.Fatalf("wpe gradient vs finite differences: cosine %.6f, norm relative error %.2g", cos, rel)
	}
}

var _ model.Trainable = (*gpt2.Model)(nil)

// TestEvalLossMatchesForwardLoss: a validation pass gives the training
// forward's loss and count, bit for bit.
func TestEvalLossMatchesForwardLoss(t *testing.T) {
	b, err := model.Load("../../testdata/ref/gpt2-tiny", model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(*gpt2.Model)
	const B, T = 2, 5
	V := m.Config.VocabSize
	ids, targets := make([]int32, B*T), make([]int32, B*T)
	for i := range ids {
		ids[i], targets[i] = int32((i*29+3)%V), int32((i*41+7)%V)
	}
	sum, n, err := m.ForwardLoss(ids, targets, B, T)
	if err != nil {
		t.Fatal(err)
	}
	esum, en, err := m.EvalLoss(ids, targets, B, T)
	if err != nil || esum != sum || en != n {
		t.Errorf("EvalLoss %v over %d (%v), ForwardLoss %v over %d", esum, en, err, sum, n)
	}
}
