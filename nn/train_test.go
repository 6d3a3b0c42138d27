package nn

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fakeArch records the calls TrainState makes.
type fakeArch struct {
	nf    []float32
	calls []string
	bad   error
	dnf   []float32 // the last FinalNormBackward's dnf
}

func (f *fakeArch) Name() string                           { return "fake" }
func (f *fakeArch) NumLayers() int                         { return 3 }
func (f *fakeArch) CheckInput(ids []int32, B, T int) error { return f.bad }
func (f *fakeArch) GrowTrain(B, T int, ckpt bool)          { f.calls = append(f.calls, "grow") }
func (f *fakeArch) ForwardHidden(ids, pos []int32, B, T int) []float32 {
	f.calls = append(f.calls, "forward")
	return f.nf
}
func (f *fakeArch) FinalNormBackward(dx, dnf []float32, N int) {
	f.calls = append(f.calls, "norm")
	f.dnf = slices.Clone(dnf)
}
func (f *fakeArch) RecomputeLayer(l int, pos []int32, B, T int) {
	f.calls = append(f.calls, "re"+string(rune('0'+l)))
}
func (f *fakeArch) LayerBackward(l int, dx []float32, B, T int) {
	f.calls = append(f.calls, "back"+string(rune('0'+l)))
}

// TestTrainStateBookkeeping checks the order of the architecture's calls
// (layers top down, each recomputed first under checkpointing), the scale
// reaching the final norm's gradient, and when Backward refuses or does
// nothing: before any ForwardLoss, after a failed one, twice in a row, and
// with no counted target.
func TestTrainStateBookkeeping(t *testing.T) {
	head := NewLinear(2, 3, false)
	copy(head.W, []float32{1, 0, 0, 1, 1, 1})
	ids, targets := []int32{0, 1}, []int32{2, 0}
	for _, ckpt := range []bool{false, true} {
		var s TrainState
		s.Ckpt = ckpt
		f := &fakeArch{nf: []float32{0.5, -1, 2, 0.25}}
		if err := s.Backward(f, 1); err == nil || !strings.Contains(err.Error(), "fake") {
			t.Fatalf("Backward before ForwardLoss: %v", err)
		}
		_, n, err := s.ForwardLoss(f, head, ids, targets, 1, 2, 3)
		if err != nil || n != 2 {
			t.Fatalf("ForwardLoss: %d counted, %v", n, err)
		}
		unscaled := slices.Clone(s.dNF)
		if err := s.Backward(f, 0.5); err != nil {
			t.Fatal(err)
		}
		want := []string{"grow", "forward", "norm", "back2", "back1", "back0"}
		if ckpt {
			want = []string{"grow", "forward", "norm", "re2", "back2", "re1", "back1", "re0", "back0"}
		}
		if !slices.Equal(f.calls, want) {
			t.Errorf("ckpt %v: calls %v, want %v", ckpt, f.calls, want)
		}
		for i, v := range f.dnf {
			if v != 0.5*unscaled[i] || v == 0 {
				t.Fatalf("dnf[%d] = %v, want 0.5 × %v", i, v, unscaled[i])
			}
		}
		if err := s.Backward(f, 1); err == nil {
			t.Error("a second Backward ran")
		}
		// A failed ForwardLoss leaves nothing for Backward.
		s.ForwardLoss(f, head, ids, targets, 1, 2, 3)
		f.bad = errors.New("fake: bad input")
		if _, _, err := s.ForwardLoss(f, head, ids, targets, 1, 2, 3); err != f.bad {
			t.Fatalf("ForwardLoss with bad input: %v", err)
		}
		if err := s.Backward(f, 1); err == nil {
			t.Error("Backward ran after a failed ForwardLoss")
		}
		// No counted target: Backward does nothing.
		f.bad, f.calls = nil, nil
		if _, n, _ := s.ForwardLoss(f, head, ids, []int32{-100, -100}, 1, 2, 3); n != 0 {
			t.Fatalf("%d counted of none", n)
		}
		if err := s.Backward(f, 1); err != nil || slices.Contains(f.calls, "norm") {
			t.Errorf("Backward with no counted target: %v, calls %v", err, f.calls)
		}
	}
}

// TestGrowEach checks the activation helpers keep the buffers and sets
// they have and size the rest.
func TestGrowEach(t *testing.T) {
	bufs := GrowEach(nil, 2, 4)
	first := &bufs[0][0]
	bufs = GrowEach(bufs, 3, 3)
	if len(bufs) != 3 || &bufs[0][0] != first || len(bufs[0]) != 3 || len(bufs[2]) != 3 {
		t.Fatalf("grown to %d buffers of %d, first kept %v", len(bufs), len(bufs[2]), &bufs[0][0] == first)
	}
	if bufs = GrowEach(bufs, 1, 8); len(bufs) != 1 || len(bufs[0]) != 8 {
		t.Fatalf("shrunk to %d buffers of %d", len(bufs), len(bufs[0]))
	}
	sets := Resize([]struct{ a []float32 }{{a: []float32{1}}}, 3)
	if len(sets) != 3 || sets[0].a[0] != 1 || sets[2].a != nil {
		t.Fatalf("Resize: %v", sets)
	}
}

// TestEvalLoss checks EvalLoss gives ForwardLoss's sum and count, leaves
// nothing for Backward, and does not touch the gradient a ForwardLoss
// left (its rows are computed without a gradient buffer).
func TestEvalLoss(t *testing.T) {
	head := NewLinear(2, 3, false)
	copy(head.W, []float32{1, 0, 0, 1, 1, 1})
	ids, targets := []int32{0, 1}, []int32{2, 0}
	f := &fakeArch{nf: []float32{0.5, -1, 2, 0.25}}
	var s TrainState
	sum, n, err := s.ForwardLoss(f, head, ids, targets, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	grad := slices.Clone(s.dNF)
	esum, en, err := s.EvalLoss(f, head, ids, targets, 1, 2, 3)
	if err != nil || esum != sum || en != n {
		t.Fatalf("EvalLoss %v over %d (%v), ForwardLoss %v over %d", esum, en, err, sum, n)
	}
	if !slices.Equal(s.dNF, grad) {
		t.Error("EvalLoss changed the gradient buffer")
	}
	if err := s.Backward(f, 1); err == nil {
		t.Error("Backward ran after EvalLoss")
	}
}
