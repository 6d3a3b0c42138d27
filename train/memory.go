package train

import (
	"bufio"
	"fmt"
	"os"
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

// MemAvailable returns /proc/meminfo's MemAvailable in bytes; ok is false
// where it cannot be read (not Linux).
func MemAvailable() (int64, bool) {
	return procKB("/proc/meminfo", "MemAvailable:")
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
