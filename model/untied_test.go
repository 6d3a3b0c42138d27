package model_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/model/gpt2"
)

// Untied heads are tested against the tied fixtures' PyTorch logits: a
// head whose row v is the embedding's row perm[v] gives, at every
// position, the tied model's logit perm[v] as logit v. A loader that
// ignores the separate head (the tied result) fails by far more than the
// tolerance.

// headPerm is a permutation of 0..V-1 (37 is odd, so coprime with the
// fixtures' V = 128).
func headPerm(V int) []int {
	p := make([]int, V)
	for v := range p {
		p[v] = (37*v + 11) % V
	}
	return p
}

// permutedRows returns a copy of the 2-D F32 tensor x, named name, whose
// row v is x's row perm[v] (1-D tensors: element v is x's perm[v]).
func permutedRows(t *testing.T, x safetensors.Tensor, name string, perm []int) safetensors.Tensor {
	t.Helper()
	if x.DType != safetensors.F32 || x.Shape[0] != len(perm) {
		t.Fatalf("%s: %s %v, want F32 with %d rows", x.Name, x.DType, x.Shape, len(perm))
	}
	row := len(x.Data) / len(perm)
	data := make([]byte, 0, len(x.Data))
	for _, p := range perm {
		data = append(data, x.Data[p*row:(p+1)*row]...)
	}
	return safetensors.Tensor{Name: name, DType: x.DType, Shape: x.Shape, Data: data}
}

// find returns the tensor called name.
func find(t *testing.T, ts []safetensors.Tensor, name string) safetensors.Tensor {
	t.Helper()
	for _, x := range ts {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no tensor %s", name)
	return safetensors.Tensor{}
}

// untie returns a config edit adding "tie_word_embeddings": false after
// model_type.
func untie(modelType string) func(string) string {
	return func(s string) string {
		old := `"model_type": "` + modelType + `",`
		if !strings.Contains(s, old) {
			panic("config.json has no " + old)
		}
		return strings.Replace(s, old, old+"\n  \"tie_word_embeddings\": false,", 1)
	}
}

// permutedDiff is the largest |got - PyTorch| at the real positions of the
// fixture batch e, logit v of got compared with the fixture's perm[v].
func permutedDiff(e expected, got []float32, perm []int) float64 {
	B, T, V := len(e.InputIDs), len(e.InputIDs[0]), len(perm)
	var d float64
	for bi := 0; bi < B; bi++ {
		for ti := 0; ti < T; ti++ {
			if e.AttentionMask[bi][ti] == 0 {
				continue
			}
			for v := 0; v < V; v++ {
				d = math.Max(d, math.Abs(float64(got[(bi*T+ti)*V+v])-e.Logits[bi][ti][perm[v]]))
			}
		}
	}
	return d
}

// batchLogits runs the fixture batch e through a decoder's cached forward.
func batchLogits(t *testing.T, b *model.Bundle, e expected) []float32 {
	t.Helper()
	B, T, V := len(e.InputIDs), len(e.InputIDs[0]), b.LM.VocabSize()
	var ids []int32
	for _, r := range e.InputIDs {
		ids = append(ids, r...)
	}
	logits := make([]float32, B*T*V)
	if err := b.LM.Forward(b.LM.NewCache(B, T), ids, B, T, logits, false); err != nil {
		t.Fatal(err)
	}
	return logits
}

// TestGPT2UntiedHead loads gpt2-tiny with tie_word_embeddings false and
// lm_head.weight = wte with permuted rows, under the original names and
// under GPT2LMHeadModel's "transformer." names: the logits are PyTorch's
// permuted, the parameters count the head, the head stays a slot of its
// own, and without lm_head.weight loading fails naming it.
func TestGPT2UntiedHead(t *testing.T) {
	ref := load(t, filepath.Join(refDir, "gpt2-tiny"))
	e := readExpected(t, filepath.Join(refDir, "gpt2-tiny"))
	V, C := 128, 48
	perm := headPerm(V)
	withHead := func(prefix string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			head := permutedRows(t, find(t, ts, "wte.weight"), "lm_head.weight", perm)
			for i := range ts {
				ts[i].Name = prefix + ts[i].Name
			}
			return append(ts, head)
		}
	}
	for _, prefix := range []string{"", "transformer."} {
		t.Run("names "+prefix+"wte.weight", func(t *testing.T) {
			b := load(t, mutatedFixture(t, "gpt2-tiny", untie("gpt2"), withHead(prefix)))
			logits := batchLogits(t, b, e)
			d := permutedDiff(e, logits, perm)
			t.Logf("untied head: max |logit - PyTorch float64 (permuted)| = %.3g", d)
			if d > logitTol {
				t.Fatalf("untied head: max abs diff %.3g > %g", d, logitTol)
			}
			tied := permutedDiff(e, batchLogits(t, ref, e), perm)
			t.Logf("the tied model's logits differ from them by up to %.3g", tied)
			if tied < 1 {
				t.Fatalf("the tied model is within %.3g of the untied logits: the test cannot tell them apart", tied)
			}
			if b.Info.Tied || b.Info.Params != ref.Info.Params+V*C {
				t.Errorf("tied %v, params %d; want false, %d + %d", b.Info.Tied, b.Info.Params, ref.Info.Params, V*C)
			}
			m := b.LM.(*gpt2.Model)
			if &m.LMHead.Base().W[0] == &m.WTE.W[0] {
				t.Error("the untied head shares wte's weight")
			}
			if last := b.Slots[len(b.Slots)-1]; last.Name != "lm_head" || !last.Head {
				t.Errorf("last slot %s (head %v), want lm_head", last.Name, last.Head)
			}
		})
	}
	_, err := loadErr(mutatedFixture(t, "gpt2-tiny", untie("gpt2"), nil))
	if err == nil || !strings.Contains(err.Error(), "missing tensors (1): lm_head.weight") {
		t.Errorf("untied config without lm_head.weight: %v", err)
	}
}

// TestGPT2UntiedTraining checks the training path with an untied head on
// the fixture's first row (12 tokens, each predicting the next): the
// summed cross-entropy ForwardLoss returns equals the one of PyTorch's
// permuted logits, and Backward's gradient with respect to the position
// embeddings agrees with central finite differences of the loss, so the
// fused head's backward multiplies by lm_head, not wte.
func TestGPT2UntiedTraining(t *testing.T) {
	const V = 128
	perm := headPerm(V)
	e := readExpected(t, filepath.Join(refDir, "gpt2-tiny"))
	b := load(t, mutatedFixture(t, "gpt2-tiny", untie("gpt2"), func(ts []safetensors.Tensor) []safetensors.Tensor {
		return append(ts, permutedRows(t, find(t, ts, "wte.weight"), "lm_head.weight", perm))
	}))
	m := b.LM.(*gpt2.Model)
	ids := e.InputIDs[0]
	T, C := len(ids), m.Config.NEmbd
	targets := make([]int32, T)
	for i := range targets {
		targets[i] = kernels.IgnoreIndex
		if i+1 < T {
			targets[i] = ids[i+1]
		}
	}
	// PyTorch's loss: logit v of the untied model is the fixture's perm[v];
	// the log-sum-exp over a row does not depend on the order.
	var want float64
	for ti, tg := range targets[:T-1] {
		row := e.Logits[0][ti]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, l)
		}
		var s float64
		for _, l := range row {
			s += math.Exp(l - mx)
		}
		want += mx + math.Log(s) - row[perm[tg]]
	}
	const scale = 0.5
	sum, n, err := m.ForwardLoss(ids, targets, 1, T)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summed loss %.8g, PyTorch (permuted logits) %.8g, relative difference %.2g", sum, want, math.Abs(sum-want)/want)
	if n != T-1 || math.Abs(sum-want) > 1e-5*want {
		t.Fatalf("ForwardLoss %v over %d, want %v over %d", sum, n, want, T-1)
	}
	if err := m.Backward(scale); err != nil {
		t.Fatal(err)
	}
	dWPE := m.InputGrad()[:T*C] // one row: wpe row p gets position p's gradient
	loss := func() float64 {
		s, _, err := m.ForwardLoss(ids, targets, 1, T)
		if err != nil {
			t.Fatal(err)
		}
		return scale * s
	}
	cos, rel := testutil.GradCheck(m.WPE.W, dWPE, nil, loss, 1e-2)
	t.Logf("%d entries: cosine %.6f, norm relative error %.2g", len(dWPE), cos, rel)
	if !(cos > 0.999) || !(rel < 1e-2) {
		t.Fatalf("wpe gradient vs finite differences: cosine %.6f, norm relative error %.2g", cos, rel)
	}
}

// TestGGUFGPT2OutputWeight: llama.cpp's converter writes GPT-2's tied head
// again as output.weight, an exact copy of token_embd.weight; that file
// loads tied, counting the head once. An output.weight that differs is an
// untied head, which llama.cpp would run: the logits are PyTorch's
// permuted, as from the untied safetensors folder.
func TestGGUFGPT2OutputWeight(t *testing.T) {
	dir := filepath.Join(refDir, "gpt2-tiny")
	ref, e := load(t, dir), readExpected(t, dir)
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	wte, err := set.Float32("wte.weight")
	if err != nil {
		t.Fatal(err)
	}
	const V, C = 128, 48
	perm := headPerm(V)
	permuted := make([]float32, 0, V*C)
	for _, p := range perm {
		permuted = append(permuted, wte[p*C:(p+1)*C]...)
	}
	copyB := load(t, gpt2GGUF(t, wte))
	if !copyB.Info.Tied || copyB.Info.Params != ref.Info.Params {
		t.Errorf("output.weight = token_embd.weight: tied %v, params %d; want true, %d", copyB.Info.Tied, copyB.Info.Params, ref.Info.Params)
	}
	sameLogits(t, batchLogits(t, ref, e), batchLogits(t, copyB, e), "with the converter's copy of the tied head")

	untied := load(t, gpt2GGUF(t, permuted))
	if untied.Info.Tied || untied.Info.Params != ref.Info.Params+V*C {
		t.Errorf("output.weight of its own: tied %v, params %d; want false, %d", untied.Info.Tied, untied.Info.Params, ref.Info.Params+V*C)
	}
	logits := batchLogits(t, untied, e)
	d := permutedDiff(e, logits, perm)
	t.Logf("GGUF untied head: max |logit - PyTorch float64 (permuted)| = %.3g", d)
	if d > logitTol {
		t.Fatalf("GGUF untied head: max abs diff %.3g > %g", d, logitTol)
	}
}

// TestBERTUntiedDecoder loads bert-tiny with tie_word_embeddings false, a
// decoder weight of permuted word-embedding rows and cls.predictions.bias
// permuted alike: the MLM scores are PyTorch's permuted, the parameters
// count the decoder weight, and without it loading fails naming it.
func TestBERTUntiedDecoder(t *testing.T) {
	dir := filepath.Join(refDir, "bert-tiny")
	ref, e := load(t, dir), readExpected(t, dir)
	const V, C = 128, 32
	perm := headPerm(V)
	b := load(t, mutatedFixture(t, "bert-tiny", untie("bert"), func(ts []safetensors.Tensor) []safetensors.Tensor {
		dec := permutedRows(t, find(t, ts, "bert.embeddings.word_embeddings.weight"), "cls.predictions.decoder.weight", perm)
		for i := range ts {
			if ts[i].Name == "cls.predictions.bias" {
				ts[i] = permutedRows(t, ts[i], ts[i].Name, perm)
			}
		}
		return append(ts, dec)
	}))
	B, T := len(e.InputIDs), len(e.InputIDs[0])
	ids, types, lens := e.batch()
	scores := make([]float32, B*T*V)
	if err := b.Encoder.Forward(ids, types, lens, B, T, scores); err != nil {
		t.Fatal(err)
	}
	d := permutedDiff(e, scores, perm)
	t.Logf("untied decoder: max |score - PyTorch float64 (permuted)| = %.3g", d)
	if d > logitTol {
		t.Fatalf("untied decoder: max abs diff %.3g > %g", d, logitTol)
	}
	if b.Info.Tied || b.Info.Params != ref.Info.Params+V*C {
		t.Errorf("tied %v, params %d; want false, %d + %d", b.Info.Tied, b.Info.Params, ref.Info.Params, V*C)
	}
	_, err := loadErr(mutatedFixture(t, "bert-tiny", untie("bert"), nil))
	if err == nil || !strings.Contains(err.Error(), "missing tensors (1): cls.predictions.decoder.weight") {
		t.Errorf("untied config without the decoder weight: %v", err)
	}
}
