package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/optim"
	"github.com/loftml/loft/train"
)

// refBatches reads data.json of a LoRA fixture (tools/ref/README.md): each
// batch's input_ids (B, T) and labels (B, T), unshifted; position t
// predicts labels[t+1], as Hugging Face's causal-LM loss, so the targets
// are the labels shifted left with the last position ignored.
func refBatches(t *testing.T, path string) train.Batches {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Batches []struct {
			InputIDs [][]int32 `json:"input_ids"`
			Labels   [][]int32 `json:"labels"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(buf, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out train.Batches
	for _, b := range d.Batches {
		B, T := len(b.InputIDs), len(b.InputIDs[0])
		tb := train.Batch{B: B, T: T}
		for i := range B {
			tb.IDs = append(tb.IDs, b.InputIDs[i]...)
			tb.Targets = append(tb.Targets, b.Labels[i][1:]...)
			tb.Targets = append(tb.Targets, train.Ignore)
		}
		out = append(out, tb)
	}
	return out
}

// TestTrajectoryMatchesPyTorch trains from each fixture's initial adapter
// on its fixed batches (no shuffle, constant lr 1e-3, clip 1.0, AdamW with
// torch's defaults) through Trainer.Run, and compares every step's loss,
// pre-clip gradient norm and token count with the PyTorch float64
// reference, and the saved final adapter with adapter_final.
func TestTrajectoryMatchesPyTorch(t *testing.T) {
	cases := []struct {
		name, model, fixture string
		adapterTol           float64 // max |w - ref| over the final adapter
	}{
		{"stories260k-qv", "", "lora-stories260k/qv", 2e-5},
		{"stories260k-all-linear", "", "lora-stories260k/all-linear", 2e-5},
		{"gpt2-c_attn", "gpt2-tiny", "lora-gpt2-tiny/c_attn", 2e-5},
		{"qwen2-qv", "qwen2-tiny", "lora-qwen2-tiny/qv", 2e-5},
		{"qwen3-all-linear", "qwen3-tiny", "lora-qwen3-tiny/all-linear", 2e-5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "ref", c.model)
			if c.model == "" {
				dir = testutil.SharedDir(t, "models", "stories260K", "hf")
			}
			fixture := filepath.Join("..", "testdata", "ref", c.fixture)
			b, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m, ok := b.LM.(model.Trainable)
			if !ok {
				t.Fatalf("%s: the model is not trainable", dir)
			}
			ad, err := lora.Load(filepath.Join(fixture, "adapter_init"), m.Slots())
			if err != nil {
				t.Fatal(err)
			}
			ad.SetTraining(true)
			var ref struct {
				Loss   []float64 `json:"loss"`
				Tokens []int     `json:"tokens"`
			}
			var refNorm struct {
				GradNorm []float64 `json:"grad_norm"`
			}
			buf, err := os.ReadFile(filepath.Join(fixture, "trajectory.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(buf, &ref); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(buf, &refNorm); err != nil {
				t.Fatal(err)
			}
			data := refBatches(t, filepath.Join(filepath.Dir(fixture), "data.json"))
			steps := len(ref.Loss)
			if len(data) != steps {
				t.Fatalf("%d batches for %d steps", len(data), steps)
			}
			out := t.TempDir()
			params := ad.Params()
			tr := &train.Trainer{
				Model: m, Params: params, Opt: optim.NewAdamW(params, 0), Train: data,
				Config: train.Config{Steps: steps, GradAccum: 1, MaxGradNorm: 1, OutDir: out,
					MetricsPath: filepath.Join(out, "metrics.jsonl"),
					Schedule:    optim.Schedule{Kind: optim.Constant, LR: 1e-3, Total: steps}},
				SaveAdapter: func(d string) error { return ad.Save(d, dir) },
			}
			if _, err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			mf, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var worstLoss, worstNorm float64
			cum := 0
			dec := json.NewDecoder(bytes.NewReader(mf))
			for s := range steps {
				var line struct {
					Step     int     `json:"step"`
					Loss     float64 `json:"loss"`
					GradNorm float64 `json:"grad_norm"`
					Tokens   int     `json:"tokens"`
				}
				if err := dec.Decode(&line); err != nil {
					t.Fatalf("metrics line %d: %v", s+1, err)
				}
				rl := math.Abs(line.Loss-ref.Loss[s]) / ref.Loss[s]
				rn := math.Abs(line.GradNorm-refNorm.GradNorm[s]) / refNorm.GradNorm[s]
				worstLoss, worstNorm = max(worstLoss, rl), max(worstNorm, rn)
				if rl > 1e-4 || rn > 1e-4 {
					t.Errorf("step %d: loss %.8f (PyTorch %.8f, rel %.2g), grad norm %.8f (PyTorch %.8f, rel %.2g)",
						s+1, line.Loss, ref.Loss[s], rl, line.GradNorm, refNorm.GradNorm[s], rn)
				}
				if line.Step != s+1 {
					t.Errorf("metrics line %d has step %d", s+1, line.Step)
				}
				cum += ref.Tokens[s]
				if line.Tokens != cum {
					t.Errorf("after step %d: %d tokens, PyTorch counted %d", s+1, line.Tokens, cum)
				}
			}
			// The final adapter as saved in OutDir against adapter_final.
			got, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			want, err := safetensors.Open(filepath.Join(fixture, "adapter_final", "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			if len(got.Names()) != len(want.Names()) {
				t.Fatalf("final adapter has %d tensors, the reference %d", len(got.Names()), len(want.Names()))
			}
			var worstW float64
			for _, name := range want.Names() {
				w, err := want.Float32(name)
				if err != nil {
					t.Fatal(err)
				}
				g, err := got.Float32(name)
				if err != nil {
					t.Fatalf("final adapter: %v", err)
				}
				for i := range w {
					worstW = max(worstW, math.Abs(float64(g[i]-w[i])))
				}
			}
			t.Logf("%d steps: max relative loss error %.2g, grad-norm error %.2g; final adapter max |Δw| %.2g", steps, worstLoss, worstNorm, worstW)
			if worstW > c.adapterTol {
				t.Errorf("final adapter differs from PyTorch's by up to %.3g (tolerance %g)", worstW, c.adapterTol)
			}
		})
	}
}
