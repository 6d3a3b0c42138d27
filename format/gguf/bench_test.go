package gguf

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkDequantize reports dequantisation throughput in output floats
// (b.SetBytes counts the float32 bytes written).
func BenchmarkDequantize(b *testing.B) {
	const n = 1 << 16
	for _, typ := range []Type{F16, BF16, Q8_0, Q4_0, Q5_1, Q4_K, Q5_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			src := make([]byte, typ.RowSize(n))
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			dst := make([]float32, n)
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := Dequantize(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseVocab parses a file holding a 150k-token vocabulary, the
// size of Qwen's, to keep metadata parsing cheap.
func BenchmarkParseVocab(b *testing.B) {
	toks := make([]string, 150000)
	scores := make([]float32, len(toks))
	for i := range toks {
		toks[i] = "tok" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		scores[i] = float32(-i)
	}
	path := b.TempDir() + "/vocab.gguf"
	if err := Write(path, []KV{{"tokenizer.ggml.tokens", ArrayOf(toks)}, {"tokenizer.ggml.scores", ArrayOf(scores)}}, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
