package lora_test

import (
	"testing"
	"time"

	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
)

// BenchmarkTrainStep measures ForwardLoss + Backward of a LoRA (q_proj,
// v_proj, r 8) step on random weights of a real model's shape, B=4, T=128,
// and reports training tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"smollm-135m", "gpt2"} {
		b.Run(name, func(b *testing.B) {
			s, err := model.Shape(name)
			if err != nil {
				b.Fatal(err)
			}
			lm, _, err := model.NewRandom(s, 1)
			if err != nil {
				b.Fatal(err)
			}
			m := lm.(model.Trainable)
			targets := []string{"q_proj", "v_proj"}
			if name == "gpt2" {
				targets = []string{"c_attn"}
			}
			if _, err := lora.Apply(m.Slots(), lora.Config{R: 8, Alpha: 16, Targets: targets}); err != nil {
				b.Fatal(err)
			}
			const B, T = 4, 128
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32(i * 7 % m.VocabSize())
			}
			var fwd, bwd time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				_, n, err := m.ForwardLoss(ids, ids, B, T)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := m.Backward(1 / float32(n)); err != nil {
					b.Fatal(err)
				}
				fwd, bwd = fwd+t1.Sub(t0), bwd+time.Since(t1)
			}
			b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(fwd.Seconds()/float64(b.N)*1e3, "fwd-ms")
			b.ReportMetric(bwd.Seconds()/float64(b.N)*1e3, "bwd-ms")
		})
	}
}
