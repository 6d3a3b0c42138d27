package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loftml/loft/kernels"
)

func TestBenchGemm(t *testing.T) {
	code, out, errOut := run(t, "bench", "gemm", "--shapes", "7x16x9, 12x5x33", "--reps", "2", "--threads", "1", "--variant", "nt-bf16")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %q", out)
	}
	for i, want := range [][3]int{{7, 16, 9}, {12, 5, 33}} {
		var r gemmResult
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatalf("line %d: %v: %q", i, err, lines[i])
		}
		if r.M != want[0] || r.K != want[1] || r.N != want[2] || r.Threads != 1 || r.Reps != 2 || r.Variant != "nt-bf16" {
			t.Fatalf("line %d = %+v, want shape %v on 1 thread, 2 reps, nt-bf16", i, r, want)
		}
		if !(r.GFlops > 0) || r.Kernel == "" {
			t.Fatalf("line %d has no speed or kernel: %+v", i, r)
		}
	}
}

// TestBenchGemmKernel runs every micro-kernel the machine has by name and
// checks the line names it, and that the default comes back afterwards.
func TestBenchGemmKernel(t *testing.T) {
	def := kernels.GemmVariant()
	for _, k := range kernels.GemmKernels() {
		code, out, errOut := run(t, "bench", "gemm", "--shapes", "13x20x40", "--reps", "1", "--kernel", k)
		if code != ExitOK {
			t.Fatalf("--kernel %s: code %d, stderr %q", k, code, errOut)
		}
		var r gemmResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Kernel != k {
			t.Fatalf("--kernel %s: %q (%v)", k, out, err)
		}
		if got := kernels.GemmVariant(); got != def {
			t.Fatalf("after --kernel %s the GEMM runs %s, want %s", k, got, def)
		}
	}
}

func TestBenchGemmUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--shapes", "1024x768"}, "--shapes"},
		{[]string{"--shapes", "8x0x8"}, "--shapes"},
		{[]string{"--shapes", "8xax8"}, "--shapes"},
		{[]string{"--shapes", ""}, "--shapes"},
		{[]string{"--reps", "0"}, "--reps"},
		{[]string{"--threads", "-1"}, "--threads"},
		{[]string{"--variant", "tt"}, "--variant"},
		{[]string{"--kernel", "sse"}, "--kernel"},
		{[]string{"extra"}, "gemm"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"bench", "gemm"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(errOut, tc.flag) {
				t.Fatalf("code %d, stderr %q; want %d naming %s", code, errOut, ExitUsage, tc.flag)
			}
		})
	}
}
