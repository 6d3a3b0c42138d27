package chat

import (
	"strings"
	"testing"
)

// BenchmarkQwen3Render renders a 20-message conversation with the Qwen3
// template (skipped without ../shared).
func BenchmarkQwen3Render(b *testing.B) {
	_, tmpl := qwen3(b)
	msgs := []Message{{Role: "system", Content: "You are a helpful assistant."}}
	for i := range 10 {
		msgs = append(msgs, Message{Role: "user", Content: strings.Repeat("question ", 20+i)},
			Message{Role: "assistant", Content: "<think>\nreasoning\n</think>\n\n" + strings.Repeat("answer ", 40)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(msgs, RenderOptions{AddGenerationPrompt: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQwen3Compile prepares and compiles the Qwen3 template.
func BenchmarkQwen3Compile(b *testing.B) {
	cfg, _ := qwen3(b)
	src := cfg.Templates[DefaultName]
	for b.Loop() {
		if _, err := New("q", "bench", src, nil); err != nil {
			b.Fatal(err)
		}
	}
}
