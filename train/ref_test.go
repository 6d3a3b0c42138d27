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
			worstW := maxAdapterDiff(t, filepath.Join(out, "adapter_model.safetensors"),
				filepath.Join(fixture, "adapter_final", "adapter_model.safetensors"))
			t.Logf("%d steps: max relative loss error %.2g, grad-norm error %.2g; final adapter max |Δw| %.2g", steps, worstLoss, worstNorm, worstW)
			if worstW > c.adapterTol {
				t.Errorf("final adapter differs from PyTorch's by up to %.3g (tolerance %g)", worstW, c.adapterTol)
			}
		})
	}
}

// maxAdapterDiff returns the largest |got - want| over the tensors of two
// adapter files, which must hold the same names.
func maxAdapterDiff(t *testing.T, gotPath, wantPath string) float64 {
	t.Helper()
	got, err := safetensors.Open(gotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := safetensors.Open(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if len(got.Names()) != len(want.Names()) {
		t.Fatalf("%s has %d tensors, the reference %d", gotPath, len(got.Names()), len(want.Names()))
	}
	var worst float64
	for _, name := range want.Names() {
		w, err := want.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", gotPath, err)
		}
		for i := range w {
			worst = max(worst, math.Abs(float64(g[i]-w[i])))
		}
	}
	return worst
}

// TestAccumTrajectoryMatchesPyTorch runs Trainer.Run with gradient
// accumulation against lora-stories260k/accum (tools/ref/gen_train.py):
// 3 micro-batches a step over the 10 batches of data.json, so each epoch is
// steps of 3, 3, 3 and 1, for 2 epochs; each step's loss divided by the
// counted tokens of all its micro-batches (transformers' num_items_in_batch);
// a linear schedule with 2 warmup steps, weight decay 0.5, clipping at 1
// (6 of the 8 steps clip); validation every 4 steps, token-weighted over
// batches 0..3. Every step's loss, grad norm, lr and tokens, both
// validation losses and the final adapter are compared.
func TestAccumTrajectoryMatchesPyTorch(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K", "hf")
	fixture := filepath.Join("..", "testdata", "ref", "lora-stories260k", "accum")
	var ref struct {
		Settings struct {
			GradAccum    int     `json:"grad_accum"`
			Steps        int     `json:"steps"`
			Schedule     string  `json:"schedule"`
			Warmup       int     `json:"warmup"`
			LR           float64 `json:"lr"`
			WeightDecay  float64 `json:"weight_decay"`
			MaxGradNorm  float64 `json:"max_grad_norm"`
			EvalEvery    int     `json:"eval_every"`
			ValidBatches []int   `json:"valid_batches"`
		} `json:"settings"`
		Loss     []float64 `json:"loss"`
		GradNorm []float64 `json:"grad_norm"`
		LR       []float64 `json:"lr"`
		Tokens   []int     `json:"tokens"`
		ValSteps []int     `json:"val_steps"`
		ValLoss  []float64 `json:"val_loss"`
	}
	buf, err := os.ReadFile(filepath.Join(fixture, "trajectory.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf, &ref); err != nil {
		t.Fatal(err)
	}
	s := ref.Settings
	kind, err := optim.ParseSchedule(s.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := b.LM.(model.Trainable)
	ad, err := lora.Load(filepath.Join(fixture, "..", "qv", "adapter_init"), m.Slots())
	if err != nil {
		t.Fatal(err)
	}
	ad.SetTraining(true)
	data := refBatches(t, filepath.Join(fixture, "..", "data.json"))
	var valid train.Batches
	for _, k := range s.ValidBatches {
		valid = append(valid, data[k])
	}
	out := t.TempDir()
	params := ad.Params()
	tr := &train.Trainer{
		Model: m, Params: params, Opt: optim.NewAdamW(params, s.WeightDecay), Train: data, Valid: valid,
		Config: train.Config{Steps: s.Steps, GradAccum: s.GradAccum, MaxGradNorm: s.MaxGradNorm, EvalEvery: s.EvalEvery,
			OutDir: out, MetricsPath: filepath.Join(out, "metrics.jsonl"),
			Schedule: optim.Schedule{Kind: kind, LR: s.LR, Warmup: s.Warmup, Total: s.Steps}},
		SaveAdapter: func(d string) error { return ad.Save(d, dir) },
		SetTraining: ad.SetTraining,
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mf, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var worstLoss, worstNorm, worstVal float64
	step, val := 0, 0
	for line := range bytes.Lines(mf) {
		var l struct {
			Step     int      `json:"step"`
			Loss     *float64 `json:"loss"`
			GradNorm float64  `json:"grad_norm"`
			LR       float64  `json:"lr"`
			Tokens   int      `json:"tokens"`
			ValLoss  *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("metrics %q: %v", line, err)
		}
		if l.ValLoss != nil {
			if val >= len(ref.ValLoss) || l.Step != ref.ValSteps[val] {
				t.Fatalf("validation at step %d; PyTorch validates at steps %v", l.Step, ref.ValSteps)
			}
			rv := math.Abs(*l.ValLoss-ref.ValLoss[val]) / ref.ValLoss[val]
			worstVal = max(worstVal, rv)
			if rv > 1e-5 {
				t.Errorf("step %d: validation loss %.8f, PyTorch %.8f", l.Step, *l.ValLoss, ref.ValLoss[val])
			}
			val++
			continue
		}
		if step >= len(ref.Loss) || l.Step != step+1 {
			t.Fatalf("metrics line for step %d after %d steps (PyTorch: %d)", l.Step, step, len(ref.Loss))
		}
		rl := math.Abs(*l.Loss-ref.Loss[step]) / ref.Loss[step]
		rn := math.Abs(l.GradNorm-ref.GradNorm[step]) / ref.GradNorm[step]
		worstLoss, worstNorm = max(worstLoss, rl), max(worstNorm, rn)
		if rl > 1e-5 || rn > 1e-4 {
			t.Errorf("step %d: loss %.8f (PyTorch %.8f), grad norm %.8f (PyTorch %.8f)", l.Step, *l.Loss, ref.Loss[step], l.GradNorm, ref.GradNorm[step])
		}
		if math.Abs(l.LR-ref.LR[step]) > 1e-15*s.LR {
			t.Errorf("step %d: lr %.17g, PyTorch %.17g", l.Step, l.LR, ref.LR[step])
		}
		cum := 0
		for _, n := range ref.Tokens[:step+1] {
			cum += n
		}
		if l.Tokens != cum {
			t.Errorf("after step %d: %d tokens, PyTorch counted %d", l.Step, l.Tokens, cum)
		}
		step++
	}
	if step != len(ref.Loss) || val != len(ref.ValLoss) {
		t.Fatalf("%d steps and %d validations in the metrics, PyTorch %d and %d", step, val, len(ref.Loss), len(ref.ValLoss))
	}
	worstW := maxAdapterDiff(t, filepath.Join(out, "adapter_model.safetensors"), filepath.Join(fixture, "adapter_final", "adapter_model.safetensors"))
	t.Logf("%d steps: max relative error loss %.2g, grad norm %.2g, validation loss %.2g; final adapter max |Δw| %.2g",
		step, worstLoss, worstNorm, worstVal, worstW)
	if worstW > 2e-5 {
		t.Errorf("final adapter differs from PyTorch's by up to %.3g (tolerance 2e-5)", worstW)
	}
}
