package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/model"
)

// refDir is the PyTorch fixtures folder (tools/ref).
const refDir = "../testdata/ref"

// expected is a fixture's expected.json.
type expected struct {
	InputIDs      [][]int32     `json:"input_ids"`
	AttentionMask [][]int       `json:"attention_mask"`
	TokenTypeIDs  [][]int32     `json:"token_type_ids"`
	Logits        [][][]float64 `json:"logits"`
}

// batch returns the fixture's rows as one batch: ids and token types (B,
// T) and each row's real length from its attention mask.
func (e expected) batch() (ids, types []int32, lens []int) {
	lens = make([]int, len(e.InputIDs))
	for bi := range e.InputIDs {
		ids = append(ids, e.InputIDs[bi]...)
		types = append(types, e.TokenTypeIDs[bi]...)
		lens[bi] = rowLen(e.AttentionMask[bi])
	}
	return ids, types, lens
}

func readExpected(t *testing.T, dir string) expected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// forward returns the logits (T, V) of one unpadded row of ids.
func forward(t testing.TB, b *model.Bundle, ids []int32) []float32 {
	t.Helper()
	T := len(ids)
	out := make([]float32, T*b.LM.VocabSize())
	if err := b.LM.Forward(b.LM.NewCache(1, T), ids, 1, T, out, false); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameLogits fails t at the first logit where got differs from want.
func sameLogits(t testing.TB, want, got []float32, what string) {
	t.Helper()
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("logit %d: %v, but %v %s", i, want[i], got[i], what)
		}
	}
}

func load(t testing.TB, path string) *model.Bundle {
	t.Helper()
	b, err := model.Load(path, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rowLen is the number of real (mask 1) tokens of a right-padded row.
func rowLen(mask []int) int {
	n := 0
	for _, m := range mask {
		n += m
	}
	return n
}

// The float64 references differ from float32 by 0.9e-6 .. 3.5e-6 on these
// models (tools/ref/README.md); 1e-4 leaves room for summation order.
const logitTol = 1e-4

// TestDecoderFixtures runs the padded batch of 3 of every tiny decoder
// through the cached forward in one call and compares the logits at real
// positions with PyTorch's; then each row alone must give the batch's
// logits (batch of 3 == 3 single runs).
func TestDecoderFixtures(t *testing.T) {
	for _, name := range []string{"llama-tiny", "llama-tiny-bf16", "llama3-tiny", "qwen2-tiny", "qwen3-tiny", "gpt2-tiny"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(refDir, name)
			b := load(t, dir)
			if b.LM == nil {
				t.Fatalf("%s: no causal LM", name)
			}
			e := readExpected(t, dir)
			B, T, V := len(e.InputIDs), len(e.InputIDs[0]), b.LM.VocabSize()
			ids := make([]int32, 0, B*T)
			for _, r := range e.InputIDs {
				ids = append(ids, r...)
			}
			logits := make([]float32, B*T*V)
			if err := b.LM.Forward(b.LM.NewCache(B, T), ids, B, T, logits, false); err != nil {
				t.Fatal(err)
			}
			var maxDiff float64
			for bi := 0; bi < B; bi++ {
				for ti := 0; ti < T; ti++ {
					if e.AttentionMask[bi][ti] == 0 {
						continue
					}
					for v := 0; v < V; v++ {
						maxDiff = math.Max(maxDiff, math.Abs(float64(logits[(bi*T+ti)*V+v])-e.Logits[bi][ti][v]))
					}
				}
			}
			t.Logf("%s: max |logit - PyTorch float64| = %.3g", name, maxDiff)
			if maxDiff > logitTol {
				t.Fatalf("%s: max abs diff %.3g > %g", name, maxDiff, logitTol)
			}
			// Each row alone, unpadded.
			var rowDiff float64
			for bi := 0; bi < B; bi++ {
				n := rowLen(e.AttentionMask[bi])
				one := make([]float32, n*V)
				if err := b.LM.Forward(b.LM.NewCache(1, n), ids[bi*T:bi*T+n], 1, n, one, false); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n*V; i++ {
					rowDiff = math.Max(rowDiff, math.Abs(float64(one[i]-logits[bi*T*V+i])))
				}
			}
			t.Logf("%s: max |batch - single| = %.3g", name, rowDiff)
			if rowDiff > 1e-5 {
				t.Fatalf("%s: batch of 3 differs from single runs by %.3g", name, rowDiff)
			}
		})
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBERTFixture compares the masked-LM scores of the padded batch of 3
// (token types, padded keys masked) with PyTorch's at real positions, and
// each row alone with the batch.
func TestBERTFixture(t *testing.T) {
	dir := filepath.Join(refDir, "bert-tiny")
	b := load(t, dir)
	if b.Encoder == nil || b.LM != nil || b.Arch != "bert" {
		t.Fatalf("arch %q, encoder %v", b.Arch, b.Encoder)
	}
	e := readExpected(t, dir)
	B, T, V := len(e.InputIDs), len(e.InputIDs[0]), b.Encoder.VocabSize()
	ids, types, lens := e.batch()
	scores := make([]float32, B*T*V)
	if err := b.Encoder.Forward(ids, types, lens, B, T, scores); err != nil {
		t.Fatal(err)
	}
	var maxDiff float64
	for bi := 0; bi < B; bi++ {
		for ti := 0; ti < lens[bi]; ti++ {
			for v := 0; v < V; v++ {
				maxDiff = math.Max(maxDiff, math.Abs(float64(scores[(bi*T+ti)*V+v])-e.Logits[bi][ti][v]))
			}
		}
	}
	t.Logf("bert-tiny: max |score - PyTorch float64| = %.3g", maxDiff)
	if maxDiff > logitTol {
		t.Fatalf("max abs diff %.3g", maxDiff)
	}
	var rowDiff float64
	for bi := 0; bi < B; bi++ {
		n := lens[bi]
		one := make([]float32, n*V)
		if err := b.Encoder.Forward(ids[bi*T:bi*T+n], types[bi*T:bi*T+n], nil, 1, n, one); err != nil {
			t.Fatal(err)
		}
		for i := range one {
			rowDiff = math.Max(rowDiff, math.Abs(float64(one[i]-scores[bi*T*V+i])))
		}
	}
	t.Logf("bert-tiny: max |batch - single| = %.3g", rowDiff)
	if rowDiff > 1e-5 {
		t.Fatalf("batch differs from single rows by %.3g", rowDiff)
	}
}

func loadErr(path string) (*model.Bundle, error) {
	return model.Load(path, model.LoadOptions{})
}
