package kernels

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks at GPT-2 small sizes: B=4, T=256, NH=12, HS=64, V=50257.

func BenchmarkAttentionGPT2(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := &AttnShape{B: 4, T: 256, NH: 12, NKV: 12, HS: 64, Causal: true}
	q, k, v, dout := newAttn(rng, a)
	out, probs := make([]float32, len(q)), make([]float32, a.B*a.NH*a.T*a.T)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			AttentionForward(out, probs, q, k, v, a)
		}
	})
	b.Run("forward+backward", func(b *testing.B) {
		for b.Loop() {
			AttentionForward(out, probs, q, k, v, a)
			AttentionBackward(dq, dk, dv, dout, probs, q, k, v, a)
		}
	})
}

func BenchmarkCrossEntropyGPT2(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	BT, V := 4*256, 50257
	logits := randF32(rng, BT*V, 2)
	targets := make([]int32, BT)
	for i := range targets {
		targets[i] = int32(rng.IntN(V))
	}
	losses, lse := make([]float32, BT), make([]float32, BT)
	dlogits := make([]float32, BT*V)
	b.SetBytes(int64(4 * BT * V))
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(4 * BT * V))
		for b.Loop() {
			CrossEntropyForward(losses, lse, logits, targets, BT, V, IgnoreIndex)
		}
	})
	b.Run("forward+backward", func(b *testing.B) {
		b.SetBytes(int64(4 * BT * V))
		for b.Loop() {
			_, n := CrossEntropyForward(losses, lse, logits, targets, BT, V, IgnoreIndex)
			CrossEntropyBackward(dlogits, logits, lse, targets, BT, V, IgnoreIndex, 1/float32(n))
		}
	})
}

// benchVec reports element throughput as bytes of float32 input per second
// (divide MB/s by 4 for millions of elements per second).
func benchVec(b *testing.B, fn func(n int)) {
	const n = 1 << 20
	b.Run("go", func(b *testing.B) {
		old := useVecAVX2
		useVecAVX2 = false
		defer func() { useVecAVX2 = old }()
		b.SetBytes(4 * n)
		for b.Loop() {
			fn(n)
		}
	})
	if useVecAVX2 {
		b.Run("avx2", func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				fn(n)
			}
		})
	}
}

func BenchmarkVec(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 1 << 20
	x, y, z, w := randF32(rng, n, 3), make([]float32, n), make([]float32, n), randF32(rng, n, 1)
	b.Run("Exp", func(b *testing.B) { benchVec(b, func(n int) { Exp(y, x) }) })
	b.Run("Tanh", func(b *testing.B) { benchVec(b, func(n int) { Tanh(y, x) }) })
	b.Run("GELUTanhForward", func(b *testing.B) { benchVec(b, func(n int) { GELUTanhForward(y, x, n) }) })
	b.Run("GELUTanhBackward", func(b *testing.B) { benchVec(b, func(n int) { GELUTanhBackward(y, w, x, n) }) })
	b.Run("GELUErfForward", func(b *testing.B) { benchVec(b, func(n int) { GELUErfForward(y, x, n) }) })
	b.Run("GELUErfBackward", func(b *testing.B) { benchVec(b, func(n int) { GELUErfBackward(y, w, x, n) }) })
	b.Run("SiLUForward", func(b *testing.B) { benchVec(b, func(n int) { SiLUForward(y, x, n) }) })
	b.Run("SiLUBackward", func(b *testing.B) { benchVec(b, func(n int) { SiLUBackward(y, w, x, n) }) })
	b.Run("SwiGLUForward", func(b *testing.B) { benchVec(b, func(n int) { SwiGLUForward(y, x, w, n) }) })
	b.Run("SwiGLUBackward", func(b *testing.B) { benchVec(b, func(n int) { SwiGLUBackward(y, z, w, x, w, n) }) })
	b.Run("Softmax1024", func(b *testing.B) { benchVec(b, func(n int) { SoftmaxForward(y, x, n/1024, 1024) }) })
	b.Run("RMSNorm768", func(b *testing.B) {
		benchVec(b, func(n int) { RMSNormForward(y, z[:n/768], x, w[:768], n/768, 768, 1e-5) })
	})
}

func BenchmarkRoPE(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	N, NH, HS := 4*256, 12, 64
	r, _ := NewRoPE(HS, HS, 10000, nil, false)
	x, out := randF32(rng, N*NH*HS, 1), make([]float32, N*NH*HS)
	pos := make([]int32, N)
	for i := range pos {
		pos[i] = int32(i % 256)
	}
	cs := r.Angles(nil, pos) // once per forward pass in a model
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		RoPEForward(out, x, cs, N, NH, r)
	}
}

func BenchmarkLayerNormGPT2(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	N, C := 4*256, 768
	x, w, bias, dout := randF32(rng, N*C, 1), randF32(rng, C, 1), randF32(rng, C, 1), randF32(rng, N*C, 1)
	out, dx, dw, db := make([]float32, N*C), make([]float32, N*C), make([]float32, C), make([]float32, C)
	mean, rstd := make([]float32, N), make([]float32, N)
	b.SetBytes(int64(4 * N * C))
	for b.Loop() {
		LayerNormForward(out, mean, rstd, x, w, bias, N, C, 1e-5)
		LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd, N, C)
	}
}

func BenchmarkAdamW(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	const n = 1 << 20
	p, g, m, v := randF32(rng, n, 1), randF32(rng, n, 1), make([]float32, n), make([]float32, n)
	h := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	b.SetBytes(4 * n)
	t := 0
	for b.Loop() {
		t++
		AdamWStep(p, g, m, v, n, t, h)
	}
}
