package lora_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
)

// refData is the part of a fixture's data.json these tests read.
type refData struct {
	Batches []struct {
		InputIDs [][]int32 `json:"input_ids"`
		Labels   [][]int32 `json:"labels"`
	} `json:"batches"`
}

// refBatch returns batch k of data.json as ids (B, T) and targets (B, T)
// shifted as Hugging Face's causal-LM loss does: position t predicts
// labels[t+1]; the last position predicts nothing.
func refBatch(t *testing.T, path string, k int) (ids, targets []int32, B, T int) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d refData
	if err := json.Unmarshal(buf, &d); err != nil {
		t.Fatal(err)
	}
	b := d.Batches[k]
	B, T = len(b.InputIDs), len(b.InputIDs[0])
	for i := range B {
		ids = append(ids, b.InputIDs[i]...)
		targets = append(targets, b.Labels[i][1:]...)
		targets = append(targets, -100)
	}
	return ids, targets, B, T
}

// TestGradsMatchPyTorch loads each fixture's initial adapter (B ≠ 0),
// runs ForwardLoss and Backward(1/count) on batch 0 and compares dA and
// dB with PyTorch's float64 step-0 gradients (grads_step0.safetensors).
// The error of each tensor is measured relative to its largest |gradient|
// (the scripts measured 1.1e-5 for a float32 PyTorch run).
func TestGradsMatchPyTorch(t *testing.T) {
	cases := []struct{ name, model, fixture string }{
		{"gpt2-c_attn", "../testdata/ref/gpt2-tiny", "../testdata/ref/lora-gpt2-tiny/c_attn"},
		{"qwen2-qv", "../testdata/ref/qwen2-tiny", "../testdata/ref/lora-qwen2-tiny/qv"},
		{"qwen3-all-linear", "../testdata/ref/qwen3-tiny", "../testdata/ref/lora-qwen3-tiny/all-linear"},
		{"stories260k-qv", "", "../testdata/ref/lora-stories260k/qv"},
		{"stories260k-all-linear", "", "../testdata/ref/lora-stories260k/all-linear"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.model
			if dir == "" {
				dir = testutil.SharedDir(t, "models", "stories260K", "hf")
			}
			b, err := model.Load(dir, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := b.LM.(model.Trainable)
			ad, err := lora.Load(filepath.Join(c.fixture, "adapter_init"), m.Slots())
			if err != nil {
				t.Fatal(err)
			}
			ids, targets, B, T := refBatch(t, filepath.Join(filepath.Dir(c.fixture), "data.json"), 0)
			sum, count, err := m.ForwardLoss(ids, targets, B, T)
			if err != nil {
				t.Fatal(err)
			}
			var traj struct{ Loss []float64 }
			buf, _ := os.ReadFile(filepath.Join(c.fixture, "trajectory.json"))
			if err := json.Unmarshal(buf, &traj); err != nil {
				t.Fatal(err)
			}
			loss := sum / float64(count)
			if rel := math.Abs(loss-traj.Loss[0]) / traj.Loss[0]; rel > 1e-5 {
				t.Errorf("loss %.8f, PyTorch %.8f (relative %.2g)", loss, traj.Loss[0], rel)
			}
			if err := m.Backward(float32(1 / float64(count))); err != nil {
				t.Fatal(err)
			}
			ref, err := safetensors.Open(filepath.Join(c.fixture, "grads_step0.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			params := ad.Params()
			if len(params) != len(ref.Names()) {
				t.Fatalf("%d adapter tensors, the reference has %d gradients", len(params), len(ref.Names()))
			}
			var worst float64
			worstName := ""
			for _, p := range params {
				want, err := ref.Float32(p.Name)
				if err != nil {
					t.Fatal(err)
				}
				var mx, d float64
				for i := range want {
					mx = math.Max(mx, math.Abs(float64(want[i])))
					d = math.Max(d, math.Abs(float64(want[i]-p.G[i])))
				}
				if d/mx > worst {
					worst, worstName = d/mx, p.Name
				}
			}
			t.Logf("loss %.8f vs %.8f; %d gradients, max error relative to each tensor's largest |g|: %.2g (%s)", loss, traj.Loss[0], len(params), worst, worstName)
			if worst > 1e-4 {
				t.Fatalf("gradients differ from PyTorch by %.3g of the largest |g| (%s)", worst, worstName)
			}
		})
	}
}
