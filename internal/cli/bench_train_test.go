package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loftml/loft/model"
)

func TestBenchTrainUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "train"},
		{"bench", "train", "--shape", "no-such-model"},
		{"bench", "train", "--shape", "gpt2", "--batch", "0"},
		{"bench", "train", "--shape", "gpt2", "--seq", "1"},
		{"bench", "train", "--shape", "gpt2", "--steps", "0"},
		{"bench", "train", "--shape", "gpt2", "--warmup", "-1"},
		{"bench", "train", "--shape", "gpt2", "--threads", "-1"},
		{"bench", "train", "--shape", "gpt2", "--lora-r", "0"},
		{"bench", "train", "--shape", "gpt2", "--lora-dropout", "1"},
	} {
		if code, _, errOut := run(t, args...); code != ExitUsage {
			t.Errorf("%q: code %d, want %d; stderr %q", args, code, ExitUsage, errOut)
		}
	}
}

// TestTrainFlops checks the FLOP count against torch_lora_bench.py's
// formula worked out by hand for SmolLM-135M, B=1, T=32, LoRA r 16 on q
// and v: base matrices 3,538,944 per layer x30 = 106,168,320; head
// 49152·576 = 28,311,552; LoRA 16·(576+576) + 16·(576+192) = 30,720 per
// layer x30 = 921,600.
// mm = 32·(4·134,479,872 + 6·921,600) = 17,390,370,816;
// attention = 32·30·4·32·576·3 = 212,336,640.
func TestTrainFlops(t *testing.T) {
	in := model.Info{Layers: 30, Hidden: 576, Vocab: 49152}
	if got, want := trainFlops(in, 106168320, 921600, 1, 32), 17602707456.0; got != want {
		t.Errorf("got %.0f, want %.0f", got, want)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestBenchTrainRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 124M-parameter model")
	}
	code, out, errOut := run(t, "bench", "train", "--shape", "gpt2", "--batch", "1", "--seq", "8", "--steps", "2", "--warmup", "1", "--threads", "1")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var r trainBenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("not one JSON line: %q (%v)", out, err)
	}
	// GPT-2 small, LoRA r 16 on c_attn: 12·16·(768 + 2304) trainable.
	if r.Trainable != 12*16*(768+2304) || r.Threads != 1 || len(r.StepTimes) != 2 || strings.Count(errOut, "step ") != 3 {
		t.Errorf("configuration not honoured: %+v; stderr %q", r, errOut)
	}
	if r.TokensPerS <= 0 || r.PeakRSSMB < 400 || r.PeakGFlops <= 0 || r.MFU <= 0 || r.MFU > 1 {
		t.Errorf("implausible result %+v", r)
	}
	if d := r.TokensPerS*r.StepMedian - 8; d > 1e-9 || d < -1e-9 {
		t.Errorf("tokens/s %v is not B·T / median step %v", r.TokensPerS, r.StepMedian)
	}
	// Random tokens over 50257 classes: the loss starts near ln 50257 = 10.8.
	if r.LastLoss < 10 || r.LastLoss > 12 {
		t.Errorf("loss %v, want about ln(50257)", r.LastLoss)
	}
}
