package chat

import (
	"strings"
	"testing"
)

// Expected strings follow the ChatML format by hand: each message is
// "<|im_start|>" + role + "\n" + content + "<|im_end|>\n"; the generation
// prompt is "<|im_start|>assistant\n".
func TestChatML(t *testing.T) {
	tmpl := ChatML()
	tests := []struct {
		name string
		msgs []Message
		gen  bool
		want string
	}{
		{"empty", nil, false, ""},
		{"empty with prompt", nil, true, "<|im_start|>assistant\n"},
		{"user", []Message{{Role: "user", Content: "Hi"}}, true,
			"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"system user assistant", []Message{
			{Role: "system", Content: "Be brief."},
			{Role: "user", Content: "2+2?"},
			{Role: "assistant", Content: "4"},
		}, false,
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"},
		{"multiline and unicode", []Message{
			{Role: "user", Content: "第一行\n  second {{ not jinja }}\n"},
		}, false,
			"<|im_start|>user\n第一行\n  second {{ not jinja }}\n<|im_end|>\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tmpl.Render(tc.msgs, RenderOptions{AddGenerationPrompt: tc.gen})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func conversation() []Message {
	return []Message{
		{Role: "system", Content: "You answer with one number."},
		{Role: "user", Content: "2+2?"},
		{Role: "assistant", Content: "4"},
		{Role: "user", Content: "Is it 4 for sure?"},
		{Role: "assistant", Content: "4"},
		{Role: "user", Content: "3+4?"},
		{Role: "assistant", Content: "7\nDone."},
	}
}

func TestChatMLPrefixStable(t *testing.T) {
	tmpl := ChatML()
	msgs := conversation()
	stable, at, err := tmpl.PrefixStable(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !stable || at != -1 {
		t.Fatalf("ChatML PrefixStable = %v at %d, want true", stable, at)
	}
	// The check itself, written out: each turn's rendering extends the
	// previous one by exactly that turn's ChatML block.
	prev := ""
	for k := 1; k <= len(msgs); k++ {
		cur, err := tmpl.Render(msgs[:k], RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := msgs[k-1]
		if want := prev + "<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n"; cur != want {
			t.Fatalf("turn %d: got %q, want %q", k, cur, want)
		}
		prev = cur
	}
	// A template that rewrites earlier turns is caught.
	rev, err := New("reversed", "test", "{% for m in messages[::-1] %}{{ m.content }};{% endfor %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	stable, at, err = rev.PrefixStable(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stable || at != 1 {
		t.Errorf("reversed template PrefixStable = %v at %d, want false at 1", stable, at)
	}
}

func TestAssistantSpans(t *testing.T) {
	msgs := conversation()
	got, err := ChatML().Render(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spans, err := AssistantSpans(got, msgs)
	if err != nil {
		t.Fatal(err)
	}
	// Byte offsets from the ChatML layout: whole blocks before each
	// answer plus its "<|im_start|>assistant\n" header. The second answer
	// "4" also occurs in the question before it; the span must not point
	// there.
	blk := func(role, content string) int {
		return len("<|im_start|>"+role+"\n") + len(content) + len("<|im_end|>\n")
	}
	hdr := len("<|im_start|>assistant\n")
	o1 := blk("system", msgs[0].Content) + blk("user", msgs[1].Content) + hdr
	o2 := o1 + len("4") + len("<|im_end|>\n") + blk("user", msgs[3].Content) + hdr
	o3 := o2 + len("4") + len("<|im_end|>\n") + blk("user", msgs[5].Content) + hdr
	want := []Span{{o1, o1 + 1}, {o2, o2 + 1}, {o3, o3 + len("7\nDone.")}}
	if len(spans) != len(want) {
		t.Fatalf("got %d spans %v, want %v", len(spans), spans, want)
	}
	for i := range want {
		if spans[i] != want[i] {
			t.Errorf("span %d = %v, want %v", i, spans[i], want[i])
		}
	}
	// The spans end right before the end-of-turn marker.
	for i, s := range spans {
		if !strings.HasPrefix(got[s.End:], "<|im_end|>") {
			t.Errorf("span %d is not followed by <|im_end|>: %q", i, got[s.End:])
		}
	}

	// A content the rendering does not hold is an error naming the message.
	_, err = AssistantSpans("nothing here", msgs)
	if err == nil || !strings.Contains(err.Error(), "assistant message 2") {
		t.Errorf("missing content: err = %v, want one naming assistant message 2", err)
	}
}

func TestContinueFinalMessage(t *testing.T) {
	tmpl := ChatML()
	tests := []struct {
		final, want string
	}{
		// The content is followed by <|im_end|>\n in the full rendering;
		// the cut keeps everything up to the content.
		{"The answer is", "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nThe answer is"},
		// ChatML keeps the trailing space, so the cut keeps it too.
		{"Sure, ", "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nSure, "},
		// Leading space: the slice after the match is compared with the
		// whole content, which fails, so the stripped length is used.
		{" x ", "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n x"},
	}
	for _, tc := range tests {
		msgs := []Message{{Role: "user", Content: "Q"}, {Role: "assistant", Content: tc.final}}
		got, err := tmpl.Render(msgs, RenderOptions{ContinueFinalMessage: true})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("final %q: got %q, want %q", tc.final, got, tc.want)
		}
	}
	if _, err := tmpl.Render(hi, RenderOptions{ContinueFinalMessage: true, AddGenerationPrompt: true}); err == nil {
		t.Error("ContinueFinalMessage with AddGenerationPrompt accepted")
	}
	drop, err := New("drop", "test", "{% for m in messages %}{{ m.role }}{% endfor %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drop.Render(hi, RenderOptions{ContinueFinalMessage: true}); err == nil {
		t.Error("a template that drops the content gave no error")
	}
}

func TestRenderGeneration(t *testing.T) {
	src := `{%- for m in messages %}
{%- if m.role == 'assistant' %}
{{- '<|im_start|>assistant\n' }}
{%- generation %}
{{- m.content + '<|im_end|>' }}
{%- endgeneration %}
{{- '\n' }}
{%- else %}
{{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}`
	tmpl, err := New("gen", "test", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tmpl.HasGeneration() || ChatML().HasGeneration() {
		t.Fatalf("HasGeneration: %v for the test template, %v for ChatML", tmpl.HasGeneration(), ChatML().HasGeneration())
	}
	msgs := []Message{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}, {Role: "user", Content: "Bye"}, {Role: "assistant", Content: "Ciao"}}
	want := "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nCiao<|im_end|>\n"
	got, spans, err := tmpl.RenderGeneration(msgs, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("RenderGeneration text %q, want %q", got, want)
	}
	if plain := render(t, tmpl, msgs, RenderOptions{}); plain != want {
		t.Errorf("Render text %q, want %q", plain, want)
	}
	// 30 bytes of user turn + 22 of assistant header = 52; "Hello<|im_end|>"
	// is 15; then "\n", a 31-byte user turn and the header: 68+31+22 = 121.
	wantSpans := []Span{{52, 67}, {121, 135}}
	if len(spans) != 2 || spans[0] != wantSpans[0] || spans[1] != wantSpans[1] {
		t.Errorf("spans %v, want %v", spans, wantSpans)
	}
	for _, s := range spans {
		if !strings.HasSuffix(got[s.Start:s.End], "<|im_end|>") {
			t.Errorf("span %q does not end with <|im_end|>", got[s.Start:s.End])
		}
	}
	// A continued final message ends inside its block.
	got, spans, err = tmpl.RenderGeneration(msgs, RenderOptions{ContinueFinalMessage: true})
	if err != nil {
		t.Fatal(err)
	}
	if got != want[:125] || len(spans) != 2 || spans[1] != (Span{121, 125}) {
		t.Errorf("continued: %q %v", got, spans)
	}
	if _, _, err := ChatML().RenderGeneration(msgs, RenderOptions{}); err == nil {
		t.Error("RenderGeneration without generation blocks gave no error")
	}
}
