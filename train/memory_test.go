package train

import (
	"testing"

	"github.com/loftml/loft/model"
)

func TestTrainableLine(t *testing.T) {
	// PEFT's README example (bigscience/mt0-large, r 8):
	// trainable params: 2,359,296 || all params: 1,231,940,608 || trainable%: 0.1915
	got := TrainableLine(2359296, 1231940608-2359296)
	want := "trainable params: 2,359,296 || all params: 1,231,940,608 || trainable%: 0.1915"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for n, w := range map[int]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", -1234: "-1,234"} {
		if c := commas(n); c != w {
			t.Errorf("commas(%d) = %q, want %q", n, c, w)
		}
	}
}

func TestEstimateMemoryByHand(t *testing.T) {
	// stories260K's shape: 5 layers, C 64, I 172, 8 heads, V 512.
	info := model.Info{Layers: 5, Hidden: 64, Intermediate: 172, Heads: 8, Vocab: 512, Params: 260000, DType: "float32"}
	m := EstimateMemory(info, 4, 32, 10240, false)
	layer := int64(4 * 4 * 32 * (12*64 + 4*172 + 8*32))
	want := MemoryEstimate{Weights: 4 * 260000, Activations: 5 * layer, Logits: 2 * 4 * 128 * 512, LoRA: 16 * 10240, Workspace: layer, Runtime: 96 << 20}
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if m.Total() != want.Weights+want.Activations+want.Logits+want.LoRA+want.Workspace+want.Runtime {
		t.Error("Total is not the sum of the parts")
	}
	ck := EstimateMemory(info, 4, 32, 10240, true)
	if ck.Activations != 4*128*64*5+layer || ck.Activations >= m.Activations {
		t.Errorf("checkpointed activations %d, plain %d", ck.Activations, m.Activations)
	}
	if b := EstimateMemory(model.Info{Params: 10, DType: "bfloat16"}, 1, 1, 0, false).Weights; b != 20 {
		t.Errorf("bf16 weights %d bytes, want 20", b)
	}
}

func TestProcMemory(t *testing.T) {
	if avail, ok := MemAvailable(); ok && avail <= 0 {
		t.Errorf("MemAvailable %d", avail)
	}
	if peak, ok := PeakRSS(); ok && peak < 1<<20 {
		t.Errorf("VmHWM %d bytes: implausibly small", peak)
	}
}
