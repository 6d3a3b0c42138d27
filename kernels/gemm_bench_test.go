package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gemmBenchShapes are the (M, K, N) shapes of a GPT-2-small-sized layer on
// 1024 tokens: attention and MLP projections, the vocabulary head, and the
// two LoRA products with rank 16.
var gemmBenchShapes = [][3]int{
	{1024, 768, 768}, {1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 8192},
	{1024, 768, 16}, {1024, 16, 768},
}

// BenchmarkGemm times C = op(A)·op(B) for every shape, variant and thread
// count, reporting GFLOP/s.
func BenchmarkGemm(b *testing.B) {
	old := Threads()
	defer SetThreads(old)
	for _, sh := range gemmBenchShapes {
		M, K, N := sh[0], sh[1], sh[2]
		rng := rand.New(rand.NewPCG(1, 2))
		x, w := randMatrix(rng, M, K, K), randMatrix(rng, K, N, N)
		c := make([]float32, M*N)
		wh := make([]uint16, len(w))
		for i, v := range w {
			wh[i] = toBF16(v)
		}
		for _, threads := range []int{1, old} {
			for _, v := range []string{"NN", "NT", "TN", "NT-bf16"} {
				b.Run(fmt.Sprintf("%dx%dx%d/%s/threads=%d", M, K, N, v, threads), func(b *testing.B) {
					SetThreads(threads)
					for b.Loop() {
						switch v {
						case "NN": // x·W
							Gemm(false, false, M, N, K, x, K, w, N, c, N, false)
						case "NT": // x·Wᵀ with W (N, K)
							Gemm(false, true, M, N, K, x, K, w, K, c, N, false)
						case "TN": // xᵀ·W with x stored (K, M)
							Gemm(true, false, M, N, K, x, M, w, N, c, N, false)
						case "NT-bf16":
							GemmBF16B(false, true, M, N, K, x, K, wh, K, c, N, false)
						}
					}
					b.ReportMetric(2*float64(M)*float64(N)*float64(K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
