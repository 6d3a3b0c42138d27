package train

import (
	"os"
	"path/filepath"
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

// TestMemAvailableCgroup: a container's memory limit lowers MemAvailable
// to the room left under it (usage less inactive file cache); no limit
// ("max", or v1's 2^63) leaves MemAvailable.
func TestMemAvailableCgroup(t *testing.T) {
	write := func(dir, name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meminfo := filepath.Join(t.TempDir(), "meminfo")
	write(filepath.Dir(meminfo), "meminfo", "MemTotal:       24000000 kB\nMemAvailable:   20971520 kB\n") // 20 GiB
	const MiB = 1 << 20
	v2, v2max, v1, v1none, none := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	write(v2, "memory.max", "1073741824\n")
	write(v2, "memory.current", "629145600\n")                            // 600 MiB
	write(v2, "memory.stat", "anon 400000000\ninactive_file 104857600\n") // 100 MiB
	write(v2max, "memory.max", "max\n")
	write(v2max, "memory.current", "629145600\n")
	write(v1, "memory/memory.limit_in_bytes", "2147483648\n")
	write(v1, "memory/memory.usage_in_bytes", "1073741824\n")
	write(v1, "memory/memory.stat", "cache 5\ntotal_inactive_file 536870912\n")
	write(v1none, "memory/memory.limit_in_bytes", "9223372036854771712\n")
	write(v1none, "memory/memory.usage_in_bytes", "1073741824\n")
	for _, c := range []struct {
		name, root string
		want       int64
	}{
		{"v2 limit", v2, 524 * MiB}, // 1024 - (600 - 100)
		{"v2 max", v2max, 20 << 30},
		{"v1 limit", v1, 1536 * MiB},
		{"v1 no limit", v1none, 20 << 30},
		{"no cgroup files", none, 20 << 30},
	} {
		if got, ok := memAvailable(meminfo, c.root); !ok || got != c.want {
			t.Errorf("%s: %d (%v), want %d", c.name, got, ok, c.want)
		}
	}
	if got, ok := memAvailable(filepath.Join(none, "absent"), v2); !ok || got != 524*MiB {
		t.Errorf("cgroup limit without meminfo: %d (%v)", got, ok)
	}
}
