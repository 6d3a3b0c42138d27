package generate

import (
	"math"
	"testing"
)

// BenchmarkSample times one pick from a Qwen2.5-sized vocabulary (151,936
// logits) with a 512-token history.
func BenchmarkSample(b *testing.B) {
	const V = 151936
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)*0.37)*4 + math.Cos(float64(i)*1e-3))
	}
	history := make([]int, 512)
	for i := range history {
		history[i] = i * 97 % V
	}
	for _, c := range []struct {
		name string
		s    Sampling
	}{
		{"greedy", Sampling{}},
		{"temperature", Sampling{Temperature: 0.8}},
		{"top-k=40", Sampling{Temperature: 0.8, TopK: 40}},
		{"top-p=0.9", Sampling{Temperature: 0.8, TopP: 0.9}},
		{"qwen-defaults", Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8, RepetitionPenalty: 1.05}},
		{"all", Sampling{Temperature: 0.8, TopK: 50, TopP: 0.95, MinP: 0.05, RepetitionPenalty: 1.1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := NewSampler(c.s)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.Sample(logits, history)
			}
		})
	}
}
