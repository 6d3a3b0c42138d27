package chat

import (
	"fmt"
	"strings"
)

// Span is a half-open byte range [Start, End) of a rendered conversation.
type Span struct {
	Start, End int
}

// AssistantSpans returns the byte range of each assistant message's content
// in rendered (a rendering of msgs), one Span per assistant message in order.
// It searches for each message's content in order, each after the end of
// the previous message found, so repeated texts map to the right turns (a
// non-assistant message whose text is not found, because the template
// rewrote it, is skipped). Templates that rewrite earlier
// turns, as Qwen3 drops their <think> reasoning, are handled by falling back
// to the text after the last "</think>", leading newlines removed. An empty
// content gives an empty span at the search position. The span holds the
// content only, not the template's end-of-turn marker that follows.
//
// The trainer masks the loss with these spans when a template is not
// prefix-stable (see PrefixStable). It is an error when a content cannot be
// found, naming the message.
func AssistantSpans(rendered string, msgs []Message) ([]Span, error) {
	var spans []Span
	pos := 0
	for i := range msgs {
		text := msgs[i].Text()
		if msgs[i].Role != "assistant" {
			// Skip past other turns when they are found, so a short
			// answer is not matched inside the question before it.
			if j := strings.Index(rendered[pos:], text); j >= 0 && text != "" {
				pos += j + len(text)
			}
			continue
		}
		j := strings.Index(rendered[pos:], text)
		if j < 0 {
			if k := strings.LastIndex(text, "</think>"); k >= 0 {
				text = strings.TrimLeft(text[k+len("</think>"):], "\n")
				j = strings.Index(rendered[pos:], text)
			}
		}
		if j < 0 {
			return nil, fmt.Errorf("chat: assistant message %d: content %.40q not found in the rendering after byte %d", i, text, pos)
		}
		start := pos + j
		spans = append(spans, Span{Start: start, End: start + len(text)})
		pos = start + len(text)
	}
	return spans, nil
}

// PrefixStable reports whether rendering msgs turn by turn only ever appends:
// the rendering of msgs[:k] (without generation prompt) is a prefix of the
// rendering of msgs[:k+1] for every k. When it is, the tokens of each turn
// can be read off the rendering of the previous turns; when it is not (Qwen3
// drops earlier reasoning), use AssistantSpans on the full rendering.
// opts.AddGenerationPrompt is ignored. at is the first k that breaks the
// prefix (-1 when stable).
func (t *Template) PrefixStable(msgs []Message, opts RenderOptions) (stable bool, at int, err error) {
	opts.AddGenerationPrompt = false
	prev := ""
	for k := 1; k <= len(msgs); k++ {
		cur, err := t.Render(msgs[:k], opts)
		if err != nil {
			return false, -1, err
		}
		if !strings.HasPrefix(cur, prev) {
			return false, k - 1, nil
		}
		prev = cur
	}
	return true, -1, nil
}
