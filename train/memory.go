package train

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loftml/loft/model"
)

// MemoryEstimate is the predicted peak memory of a training run, in bytes,
// by part.
type MemoryEstimate struct {
	Weights     int64 // base weights as loaded
	Activations int64 // activations saved for backward, all layers, (B, T)
	Logits      int64 // logits and their gradient, (B, T, V) each
	LoRA        int64 // trainable values, gradients and the two AdamW moments
	Workspace   int64 // one layer's backward buffers
	Runtime     int64 // Go runtime, tokenizer, data and garbage-collector slack
}

// runtimeBytes is the fixed part: a stories260K run with 93 MiB of
// estimated tensors peaked at 185 MiB (VmHWM), while at 1 GiB and 3 GiB of
// tensors the estimate was already above the peak (934 MiB, 2.7 GiB).
const runtimeBytes = 96 << 20

// Total is the sum of the parts.
func (m MemoryEstimate) Total() int64 {
	return m.Weights + m.Activations + m.Logits + m.LoRA + m.Workspace + m.Runtime
}

// String lists the parts in MiB.
func (m MemoryEstimate) String() string {
	return fmt.Sprintf("%s (weights %s, activations %s, logits %s, LoRA params+grads+moments %s, backward workspace %s, runtime %s)",
		MiB(m.Total()), MiB(m.Weights), MiB(m.Activations), MiB(m.Logits), MiB(m.LoRA), MiB(m.Workspace), MiB(m.Runtime))
}

// MiB formats bytes as MiB (GiB from 1 GiB up).
func MiB(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// EstimateMemory predicts the peak memory of training a model described by
// info on micro-batches (B, T) with trainable LoRA values. Per layer and
// token a decoder layer saves about 12·C + 4·I float32 values (norm
// inputs and outputs, q, k, v, attention output, residuals, the MLP's
// gate/up/activation) plus NH·T attention probabilities; with gradient
// checkpointing only each layer's input stays and one layer is recomputed
// at a time. Measured against VmHWM on stories260K it errs on the high
// side; it is an estimate, not a bound.
func EstimateMemory(info model.Info, B, T, trainable int, gradCheckpoint bool) MemoryEstimate {
	bt := int64(B) * int64(T)
	perTokLayer := int64(12*info.Hidden+4*info.Intermediate) + int64(info.Heads)*int64(T)
	layer := 4 * bt * perTokLayer
	var m MemoryEstimate
	m.Weights = int64(info.Params) * int64(dtypeBytes(info.DType))
	if gradCheckpoint {
		m.Activations = 4*bt*int64(info.Hidden)*int64(info.Layers) + layer
	} else {
		m.Activations = layer * int64(info.Layers)
	}
	m.Logits = 2 * 4 * bt * int64(info.Vocab)
	m.LoRA = 4 * 4 * int64(trainable)
	m.Workspace = layer
	m.Runtime = runtimeBytes
	return m
}

// dtypeBytes is the size of one weight as loaded: 2 for 16-bit float
// checkpoints, else 4.
func dtypeBytes(dt string) int {
	switch strings.ToLower(dt) {
	case "bf16", "bfloat16", "f16", "float16":
		return 2
	}
	return 4
}

// MemAvailable returns the bytes a run can still use: /proc/meminfo's
// MemAvailable, lowered to the room left under the memory limit of the
// process's cgroup where one is set (a container's limit, which
// MemAvailable does not see). ok is false where neither can be read (not
// Linux).
func MemAvailable() (int64, bool) {
	return memAvailable("/proc/meminfo", "/sys/fs/cgroup")
}

func memAvailable(meminfo, cgroupRoot string) (int64, bool) {
	avail, ok := procKB(meminfo, "MemAvailable:")
	if room, limited := cgroupRoom(cgroupRoot); limited && (!ok || room < avail) {
		return room, true
	}
	return avail, ok
}

// cgroupRoom returns limit − (usage − inactive file cache) of the cgroup
// mounted at root (a container sees its own cgroup there): cgroup v2's
// memory.max, memory.current and memory.stat's inactive_file, or v1's
// memory.limit_in_bytes, memory.usage_in_bytes and total_inactive_file,
// as docker stats counts usage. limited is false without a limit.
func cgroupRoom(root string) (room int64, limited bool) {
	for _, f := range []struct{ limit, usage, stat, inactive string }{
		{"memory.max", "memory.current", "memory.stat", "inactive_file"},
		{"memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat", "total_inactive_file"},
	} {
		limit, ok1 := readInt(filepath.Join(root, f.limit)) // "max": no limit
		used, ok2 := readInt(filepath.Join(root, f.usage))
		if !ok1 || !ok2 || limit >= 1<<60 { // v1 writes "no limit" as about 2^63
			continue
		}
		if cache, ok := statValue(filepath.Join(root, f.stat), f.inactive); ok && cache <= used {
			used -= cache
		}
		return max(0, limit-used), true
	}
	return 0, false
}

// readInt reads a file holding one integer.
func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// statValue reads the value of key in a "key value" per line file.
func statValue(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// PeakRSS returns this process's peak resident memory (VmHWM of
// /proc/self/status) in bytes; ok is false where it cannot be read.
func PeakRSS() (int64, bool) {
	return procKB("/proc/self/status", "VmHWM:")
}

// procKB reads a "Key:   123 kB" line of a /proc file.
func procKB(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// TrainableLine is PEFT's print_trainable_parameters line:
// "trainable params: 1,234 || all params: 5,678 || trainable%: 21.7329".
// all counts the base parameters plus the trainable ones, as PEFT counts
// the parameters of the wrapped model.
func TrainableLine(trainable, base int) string {
	all := trainable + base
	pct := 0.0
	if all > 0 {
		pct = 100 * float64(trainable) / float64(all)
	}
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f", commas(trainable), commas(all), pct)
}

// commas writes n with thousands separators, as Python's "{:,}".
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
