package model_test

import (
	"testing"

	"github.com/loftml/loft/model"
)

// BenchmarkForward measures prefill (256 tokens) and decode (one token over
// a 256-token cache) on random weights of the benchmark shapes:
//
//	go test ./model -run '^$' -bench Forward -benchtime 3x
func BenchmarkForward(b *testing.B) {
	for _, name := range []string{"smollm-135m", "gpt2"} {
		s, err := model.Shape(name)
		if err != nil {
			b.Fatal(err)
		}
		lm, _, err := model.NewRandom(s, 1)
		if err != nil {
			b.Fatal(err)
		}
		const P = 256
		ids := make([]int32, P)
		for i := range ids {
			ids[i] = int32(i*7919) % int32(lm.VocabSize())
		}
		logits := make([]float32, lm.VocabSize())
		b.Run(name+"/prefill256", func(b *testing.B) {
			for range b.N {
				if err := lm.Forward(lm.NewCache(1, P), ids, 1, P, logits, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(P*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			cache := lm.NewCache(1, P+1)
			if err := lm.Forward(cache, ids, 1, P, logits, true); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				cache.Len[0] = P
				if err := lm.Forward(cache, ids[:1], 1, 1, logits, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
