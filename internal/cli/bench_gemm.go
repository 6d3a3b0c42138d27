package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loftml/loft/kernels"
	"github.com/spf13/cobra"
)

// defaultGemmShapes are the M x K x N shapes of a GPT-2-small-sized layer on
// 1024 tokens and its rank-16 LoRA products.
const defaultGemmShapes = "1024x768x768,1024x768x3072,1024x3072x768,1024x768x8192,1024x768x16,1024x16x768"

// gemmVariants maps --variant values to the operand layouts they time.
var gemmVariants = []string{"nn", "nt", "tn", "nt-bf16"}

// gemmResult is one line of `loft bench gemm` output.
type gemmResult struct {
	M       int     `json:"m"`
	K       int     `json:"k"`
	N       int     `json:"n"`
	Variant string  `json:"variant"`
	Kernel  string  `json:"kernel"`
	Threads int     `json:"threads"`
	Reps    int     `json:"reps"`
	GFlops  float64 `json:"gflops"` // median over reps
	Millis  float64 `json:"ms"`     // median time of one product
	Iters   int     `json:"iters"`  // products per timed rep
}

func newBenchGemmCmd() *cobra.Command {
	var (
		threads int
		reps    int
		shapes  string
		variant string
		kernel  string
	)
	cmd := &cobra.Command{
		Use:   "gemm",
		Short: "Measure float32 matrix multiplication speed in GFLOP/s",
		Long: `Times C = A·B (M x K times K x N) with loft's GEMM and prints one JSON line
per shape with the median GFLOP/s over --reps timed runs. --variant picks the
operand layout: nn (A·B), nt (A·Bᵀ, a linear layer's forward), tn (Aᵀ·B, its
weight gradient) or nt-bf16 (A·Bᵀ with B in bf16). --kernel picks the
micro-kernel among those the CPU runs (avx512, avx2-fma, go), to compare them;
by default the fastest.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := parseGemmShapes(shapes)
			if err != nil {
				return usageErrorf("--shapes: %v", err)
			}
			if reps < 1 {
				return usageErrorf("--reps must be at least 1, got %d", reps)
			}
			if threads < 0 {
				return usageErrorf("--threads must be positive (0 for the default), got %d", threads)
			}
			if !slices.Contains(gemmVariants, variant) {
				return usageErrorf("--variant must be one of %s, got %q", strings.Join(gemmVariants, ", "), variant)
			}
			if kernel != "" {
				old := kernels.GemmVariant()
				if err := kernels.SetGemmKernel(kernel); err != nil {
					return usageErrorf("--kernel: %v", err)
				}
				defer kernels.SetGemmKernel(old)
			}
			if threads > 0 {
				old := kernels.Threads()
				kernels.SetThreads(threads)
				defer kernels.SetThreads(old)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, sh := range list {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				r := benchGemm(sh[0], sh[1], sh[2], variant, reps)
				if err := enc.Encode(r); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&threads, "threads", 0, "threads to run on (0: LOFT_THREADS, else all cores)")
	f.StringVar(&kernel, "kernel", "", "micro-kernel to run: avx512, avx2-fma or go (default: the fastest this CPU has)")
	f.IntVar(&reps, "reps", 5, "timed runs per shape; the median is reported")
	f.StringVar(&shapes, "shapes", defaultGemmShapes, "comma-separated MxKxN shapes")
	f.StringVar(&variant, "variant", "nn", "operand layout: "+strings.Join(gemmVariants, ", "))
	return cmd
}

// parseGemmShapes parses "MxKxN,MxKxN,..." with positive sizes.
func parseGemmShapes(s string) ([][3]int, error) {
	var out [][3]int
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(item), "x")
		if len(parts) != 3 {
			return nil, fmt.Errorf("shape %q is not MxKxN", item)
		}
		var sh [3]int
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 1 || v > 1<<16 {
				return nil, fmt.Errorf("shape %q: size %q is not an integer in [1, 65536]", item, p)
			}
			sh[i] = v
		}
		out = append(out, sh)
	}
	return out, nil
}

// benchGemm times one shape: a warm-up run sizes each timed rep to about
// 50 ms of products, and the median rep gives the result.
func benchGemm(M, K, N int, variant string, reps int) gemmResult {
	rng := rand.New(rand.NewPCG(1, 2))
	rand32 := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	a, b, c := rand32(M*K), rand32(K*N), make([]float32, M*N)
	var bh []uint16
	if variant == "nt-bf16" {
		bh = make([]uint16, len(b))
		for i, v := range b {
			bh[i] = uint16(math.Float32bits(v) >> 16)
		}
	}
	run := func() {
		switch variant {
		case "nn":
			kernels.Gemm(false, false, M, N, K, a, K, b, N, c, N, false)
		case "nt": // B stored (N, K)
			kernels.Gemm(false, true, M, N, K, a, K, b, K, c, N, false)
		case "tn": // A stored (K, M)
			kernels.Gemm(true, false, M, N, K, a, M, b, N, c, N, false)
		case "nt-bf16":
			kernels.GemmBF16B(false, true, M, N, K, a, K, bh, K, c, N, false)
		}
	}
	run() // the first run allocates packing buffers and starts workers
	start := time.Now()
	run()
	iters := max(1, int(50*time.Millisecond/max(time.Since(start), time.Microsecond)))
	times := make([]float64, reps) // seconds per product
	for r := range times {
		start := time.Now()
		for range iters {
			run()
		}
		times[r] = time.Since(start).Seconds() / float64(iters)
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	return gemmResult{
		M: M, K: K, N: N, Variant: variant, Kernel: kernels.GemmVariant(),
		Threads: kernels.Threads(), Reps: reps, Iters: iters,
		GFlops: 2 * float64(M) * float64(N) * float64(K) / med / 1e9,
		Millis: med * 1e3,
	}
}
