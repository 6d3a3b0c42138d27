package llama_test

import (
	"math"
	"slices"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/llama"
)

// TestBackwardInputFD checks the whole backward pass (final norm, every
// layer's MLP, attention, RoPE, q/k norms, projections, the fused head and
// cross-entropy) by the gradient of the summed loss with respect to the
// embedding rows, against central finite differences of the loss, on every
// architecture's fixture. A tied head is untied first (a copy), so that
// perturbing the embedding moves only the input.
func TestBackwardInputFD(t *testing.T) {
	for _, name := range []string{"llama-tiny", "llama3-tiny", "qwen2-tiny", "qwen3-tiny"} {
		t.Run(name, func(t *testing.T) {
			b, err := model.Load("../../testdata/ref/"+name, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := b.LM.(*llama.Model)
			head := m.LMHead.Base()
			head.W = slices.Clone(head.W)
			const B, T = 2, 6
			V, C := m.Config.VocabSize, m.Config.HiddenSize
			ids := make([]int32, B*T)
			targets := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32((i*37 + 5) % V)
				targets[i] = int32((i*53 + 11) % V)
			}
			targets[T-1], targets[2*T-1] = kernels.IgnoreIndex, kernels.IgnoreIndex
			const scale = 0.5
			if _, _, err := m.ForwardLoss(ids, targets, B, T); err != nil {
				t.Fatal(err)
			}
			if err := m.Backward(scale); err != nil {
				t.Fatal(err)
			}
			if err := m.Backward(1); err == nil {
				t.Fatal("a second Backward after one ForwardLoss did not fail")
			}
			dW := make([]float32, V*C)
			kernels.EmbeddingBackward(dW, m.InputGrad(), ids, B*T, V, C)
			loss := func() float64 {
				sum, _, err := m.ForwardLoss(ids, targets, B, T)
				if err != nil {
					t.Fatal(err)
				}
				return scale * sum
			}
			// The rows of the first three distinct ids.
			var idx []int
			for _, id := range ids[:3] {
				for c := 0; c < C; c++ {
					idx = append(idx, int(id)*C+c)
				}
			}
			cos, rel := testutil.GradCheck(m.Embed.W, dW, idx, loss, 1e-2)
			t.Logf("%d entries: cosine %.6f, norm relative error %.2g", len(idx), cos, rel)
			if !(cos > 0.999) || !(rel < 1e-2) {
				t.Fatalf("embedding gradient vs finite differences: cosine %.6f, norm relative error %.2g", cos, rel)
			}
		})
	}
}

// TestForwardLossMatchesLogits: the fused head's loss equals cross-entropy
// on the logits of ForwardTrain.
func TestForwardLossMatchesLogits(t *testing.T) {
	b, err := model.Load("../../testdata/ref/qwen3-tiny", model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(*llama.Model)
	const B, T = 2, 5
	V := m.Config.VocabSize
	ids := []int32{1, 5, 9, 20, 3, 7, 7, 100, 2, 64}
	targets := []int32{5, 9, 20, 3, -100, 7, 100, 2, 64, -100}
	logits := make([]float32, B*T*V)
	if err := m.ForwardTrain(m.NewActs(B, T, true), ids, B, T, logits); err != nil {
		t.Fatal(err)
	}
	want, wantN := kernels.CrossEntropyForward(make([]float32, B*T), make([]float32, B*T), logits, targets, B*T, V, kernels.IgnoreIndex)
	got, n, err := m.ForwardLoss(ids, targets, B, T)
	if err != nil {
		t.Fatal(err)
	}
	if n != wantN || n != 8 || math.Abs(got-want) > 1e-5*math.Abs(want) {
		t.Fatalf("ForwardLoss = %v over %d, want %v over %d", got, n, want, wantN)
	}
	if _, _, err := m.ForwardLoss(ids, append(targets[:9:9], int32(V)), B, T); err == nil {
		t.Fatal("a target outside the vocabulary was accepted")
	}
}

var _ model.Trainable = (*llama.Model)(nil)

// TestEvalLossMatchesForwardLoss: a validation pass gives the training
// forward's loss and count, bit for bit, on every llama-family fixture.
func TestEvalLossMatchesForwardLoss(t *testing.T) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny"} {
		b, err := model.Load("../../testdata/ref/"+name, model.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := b.LM.(*llama.Model)
		const B, T = 2, 5
		V := m.Config.VocabSize
		ids, targets := make([]int32, B*T), make([]int32, B*T)
		for i := range ids {
			ids[i], targets[i] = int32((i*29+3)%V), int32((i*41+7)%V)
		}
		targets[3] = kernels.IgnoreIndex
		sum, n, err := m.ForwardLoss(ids, targets, B, T)
		if err != nil {
			t.Fatal(err)
		}
		esum, en, err := m.EvalLoss(ids, targets, B, T)
		if err != nil || esum != sum || en != n {
			t.Errorf("%s: EvalLoss %v over %d (%v), ForwardLoss %v over %d", name, esum, en, err, sum, n)
		}
	}
}
