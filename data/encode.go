package data

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/loftml/loft/tokenizer/chat"
)

// encoder turns records into examples. It is safe for concurrent use.
type encoder struct {
	cfg *Config
}

func newEncoder(cfg *Config) *encoder { return &encoder{cfg: cfg} }

// encode tokenizes one record; truncated tells whether it was cut to SeqLen.
func (e *encoder) encode(r *record) (ex Example, truncated bool, err error) {
	var ids, labels []int32
	switch {
	case r.msgs != nil:
		ids, labels, err = e.chat(r.msgs, r.tools)
		if err != nil {
			return ex, false, err
		}
	case r.prompt != "":
		ids, labels = e.completion(r.prompt, r.completion)
	default:
		ids, labels = e.text(r.text)
	}
	if n := e.cfg.SeqLen; len(ids) > n {
		ids, labels, truncated = ids[:n:n], labels[:n:n], true
	}
	return Example{IDs: ids, Labels: labels}, truncated, nil
}

// wrap returns [BOS] + body + [EOS] as int32 ids, with the BOS and EOS
// that the config asks for, and labels equal to the ids (BOS excluded).
func (e *encoder) wrap(body []int) (ids, labels []int32) {
	bos := e.cfg.AddBOS && e.cfg.BOS >= 0
	n := len(body)
	if bos {
		n++
	}
	if e.cfg.EOS >= 0 {
		n++
	}
	ids = make([]int32, 0, n)
	if bos {
		ids = append(ids, int32(e.cfg.BOS))
	}
	for _, id := range body {
		ids = append(ids, int32(id))
	}
	if e.cfg.EOS >= 0 {
		ids = append(ids, int32(e.cfg.EOS))
	}
	labels = append([]int32(nil), ids...)
	if bos {
		labels[0] = IgnoreIndex
	}
	return ids, labels
}

// text encodes a text example: every token counts.
func (e *encoder) text(s string) (ids, labels []int32) {
	return e.wrap(e.cfg.Tokenizer.Encode(s, false))
}

// completion encodes prompt+completion as one string; the loss starts at
// the end of the common prefix of the prompt's own ids and the whole ids.
func (e *encoder) completion(prompt, completion string) (ids, labels []int32) {
	tok := e.cfg.Tokenizer
	full := tok.Encode(prompt+completion, false)
	b := commonPrefix(tok.Encode(prompt, false), full)
	ids, labels = e.wrap(full)
	if e.cfg.TrainOnPrompt {
		return ids, labels
	}
	off := 0
	if e.cfg.AddBOS && e.cfg.BOS >= 0 {
		off = 1
	}
	for i := off; i < off+b; i++ {
		labels[i] = IgnoreIndex
	}
	return ids, labels
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// chat renders a conversation and counts the assistant spans.
func (e *encoder) chat(msgs []chat.Message, tools []json.RawMessage) (ids, labels []int32, err error) {
	cfg := e.cfg
	if cfg.Template == nil {
		return nil, nil, fmt.Errorf("chat data needs a chat template, and the model has none (loft train --chat-template chatml gives it ChatML)")
	}
	opts := cfg.RenderOptions
	if tools != nil {
		opts.Tools = tools
	}
	rendered, spans, err := assistantSpans(cfg.Template, msgs, opts)
	if err != nil {
		return nil, nil, err
	}
	tok := cfg.Tokenizer
	whole := tok.Encode(rendered, false)
	ids = make([]int32, len(whole))
	labels = make([]int32, len(whole))
	for i, id := range whole {
		ids[i] = int32(id)
		labels[i] = IgnoreIndex
		if cfg.TrainOnPrompt {
			labels[i] = int32(id)
		}
	}
	if cfg.TrainOnPrompt {
		if len(labels) > 0 && cfg.BOS >= 0 && int(ids[0]) == cfg.BOS {
			labels[0] = IgnoreIndex
		}
		return ids, labels, nil
	}
	for _, sp := range spans {
		start := commonPrefix(tok.Encode(rendered[:sp.Start], false), whole)
		end := commonPrefix(tok.Encode(rendered[:sp.End], false), whole)
		end = e.endOfTurn(whole, end)
		for i := start; i < end; i++ {
			labels[i] = ids[i]
		}
	}
	return ids, labels, nil
}

// endOfTurn extends a counted span that ends before token i through the
// first special token after it (the template's end-of-turn token), when
// only whitespace tokens lie between and the span does not already end
// with a special token; otherwise it returns i.
func (e *encoder) endOfTurn(ids []int, i int) int {
	if i > 0 && e.cfg.Tokenizer.IsSpecial(ids[i-1]) {
		return i
	}
	for j := i; j < len(ids); j++ {
		if e.cfg.Tokenizer.IsSpecial(ids[j]) {
			return j + 1
		}
		if strings.TrimSpace(e.cfg.Tokenizer.Decode(ids[j:j+1], false)) != "" {
			return i
		}
	}
	return i
}

// assistantSpans renders msgs and finds the byte span of each assistant
// turn: in its own turn when rendering turn by turn only appends (every
// rendering of msgs[:k] is a prefix of the next), else with searchSpans on
// the final rendering.
//
// A span runs from the end of the turn's header (the generation prompt,
// such as "<|im_start|>assistant\n") to the end of the turn (its content and
// what the template writes after it: tool calls, the end-of-turn token;
// turnTail), so that it holds everything the model writes after the prompt
// it gets at inference: the content and the reasoning block a template
// renders before it, from
// reasoning_content (Qwen3's "<think>\n…\n</think>\n\n") or, as Qwen3 does
// for the last turn, empty ("<think>\n\n</think>\n\n"). mlx-lm's
// ChatDataset counts the same (everything after the generation prompt), and
// TRL's qwen3_training.jinja puts the think block, empty or not, inside
// {% generation %}. Counting from the content only left the reasoning out
// of the loss while the model saw it as input. When the header is not
// found, the span starts at the content.
func assistantSpans(t *chat.Template, msgs []chat.Message, opts chat.RenderOptions) (string, []chat.Span, error) {
	opts.AddGenerationPrompt = false
	opts.ContinueFinalMessage = false
	rendered, err := t.Render(msgs, opts)
	if err != nil {
		return "", nil, fmt.Errorf("chat template: %v", err)
	}
	if spans, ok := turnSpans(t, msgs, opts, rendered); ok {
		return rendered, spans, nil
	}
	spans, err := searchSpans(t, msgs, opts, rendered)
	if err != nil {
		return "", nil, err
	}
	return rendered, spans, nil
}

// searchSpans locates each assistant content in the final rendering, in
// order, as chat.AssistantSpans does (with its fallback to the text after
// "</think>" for turns whose reasoning the template dropped), but first
// skips the assistant header (the generation prompt, such as
// "<|im_start|>assistant\n"), so that a short answer such as "a" is not
// found inside the header; the span then starts at the header's end.
func searchSpans(t *chat.Template, msgs []chat.Message, opts chat.RenderOptions, rendered string) ([]chat.Span, error) {
	var spans []chat.Span
	pos := 0
	for i := range msgs {
		text := msgs[i].Text()
		if msgs[i].Role != "assistant" {
			if j := strings.Index(rendered[pos:], text); j >= 0 && text != "" {
				pos += j + len(text)
			}
			continue
		}
		head := -1
		if h := turnHeader(rendered[pos:], genPrompt(t, msgs[:i], opts)); h >= 0 {
			pos += h
			head = pos
		} else if text == "" {
			continue // a turn of tool calls alone, and nothing to find it by
		}
		j, n := findContent(rendered[pos:], text)
		if j < 0 {
			return nil, fmt.Errorf("message %d (assistant): content %.40q not found in the chat template's rendering", i, text)
		}
		start, end := pos+j, pos+j+n
		if head >= 0 {
			start = head
		}
		end += tailMatch(rendered[end:], turnTail(t, msgs[:i+1], opts))
		spans = append(spans, chat.Span{Start: start, End: end})
		pos = end
	}
	return spans, nil
}

// turnHeader returns where an assistant turn's content may start in s, the
// rest of the rendering from the end of the previous message, or -1: after
// the turn's header gen (the generation prompt) where the whole of it is
// there, else after its first line. The first line is what every assistant
// turn's header holds ("<|im_start|>assistant\n"); what follows it may be
// the last turn's alone: with enable_thinking false Qwen3's prompt adds an
// empty think block, which only the last turn keeps, and a search for the
// whole prompt ran on to that turn.
func turnHeader(s, gen string) int {
	first := gen
	if f, _, ok := strings.Cut(gen, "\n"); ok {
		first = f + "\n"
	}
	j := strings.Index(s, first)
	if first == "" || j < 0 {
		return -1
	}
	if strings.HasPrefix(s[j:], gen) {
		return j + len(gen)
	}
	return j + len(first)
}

// tailMatch returns how much of s, the final rendering after an assistant
// content, is the turn's tail as turnTail rendered it with the turn last:
// the longest suffix of tail that starts one of its lines and begins s. A
// suffix, because a template may write more after the content of the last
// turn than of an earlier one: Qwen3 writes an empty think block before
// the tool calls of the last turn only.
func tailMatch(s, tail string) int {
	for k := 0; k < len(tail); k++ {
		if (k == 0 || tail[k-1] == '\n') && strings.HasPrefix(s, tail[k:]) {
			return len(tail) - k
		}
	}
	return 0
}

// turnTail returns what the template writes after the content of the last
// message of msgs, an assistant turn, to the end of the turn (tool calls,
// the end-of-turn token; trailing whitespace left out), or "" when the
// content is not found after the turn's header. searchSpans extends a span
// over it where the final rendering holds it right after the content, as
// turnSpans counts a turn to the end of its rendering.
func turnTail(t *chat.Template, msgs []chat.Message, opts chat.RenderOptions) string {
	cur, err := t.Render(msgs, opts)
	if last := &msgs[len(msgs)-1]; err != nil && last.NoContent {
		// Some templates cannot end with a turn whose content is none
		// (Qwen3's calls content.lstrip), which an earlier turn may
		// have; its tail is the same with an empty content.
		m := append([]chat.Message(nil), msgs...)
		m[len(m)-1].NoContent = false
		cur, err = t.Render(m, opts)
	}
	if err != nil {
		return ""
	}
	from := 0
	if h := genPrompt(t, msgs[:len(msgs)-1], opts); h != "" {
		if k := strings.LastIndex(cur, h); k >= 0 {
			from = k + len(h)
		}
	}
	j, n := findContent(cur[from:], msgs[len(msgs)-1].Text())
	if j < 0 {
		return ""
	}
	return strings.TrimRightFunc(cur[from+j+n:], unicode.IsSpace)
}

// findContent returns the offset and length of an assistant content in s,
// as the template prints it: verbatim; else trimmed, as templates such as
// Llama 3's print message['content'] | trim; else the text after its last
// "</think>" (leading newlines removed, then trimmed), which is what Qwen3
// renders of a turn whose reasoning it drops or moves. j is -1 when none is
// found. Rendering with sentinels around each content would not do: the
// template's filters would then apply to the sentinels, not to the content
// (trim would keep the whitespace), and the rendering would differ from the
// one trained on.
func findContent(s, text string) (j, n int) {
	try := []string{text, strings.TrimSpace(text)}
	if k := strings.LastIndex(text, "</think>"); k >= 0 {
		after := strings.TrimLeft(text[k+len("</think>"):], "\n")
		try = append(try, after, strings.TrimSpace(after))
	}
	for i, c := range try {
		if i > 0 && (c == "" || c == try[i-1]) {
			continue
		}
		if j = strings.Index(s, c); j >= 0 {
			return j, len(c)
		}
	}
	return -1, 0
}

// genPrompt returns the text the generation prompt adds after msgs, or ""
// when the template does not simply append it.
func genPrompt(t *chat.Template, msgs []chat.Message, opts chat.RenderOptions) string {
	opts.AddGenerationPrompt = false
	without, err := t.Render(msgs, opts)
	if err != nil {
		return ""
	}
	opts.AddGenerationPrompt = true
	with, err := t.Render(msgs, opts)
	if err != nil || !strings.HasPrefix(with, without) {
		return ""
	}
	return with[len(without):]
}

// turnSpans renders msgs turn by turn; ok is false when a rendering is not
// a prefix of the next (or a partial conversation does not render, or an
// assistant content is not found in its turn).
func turnSpans(t *chat.Template, msgs []chat.Message, opts chat.RenderOptions, final string) (spans []chat.Span, ok bool) {
	prev := ""
	for k := range msgs {
		cur := final
		if k < len(msgs)-1 {
			var err error
			if cur, err = t.Render(msgs[:k+1], opts); err != nil {
				return nil, false
			}
		}
		if !strings.HasPrefix(cur, prev) || !strings.HasPrefix(final, cur) {
			return nil, false
		}
		if msgs[k].Role == "assistant" {
			// Search after the turn's header (the generation prompt), so
			// that a short content is not found inside "assistant".
			// The span starts there (see assistantSpans).
			from, head := len(prev), -1
			gen := opts
			gen.AddGenerationPrompt = true
			if h, err := t.Render(msgs[:k], gen); err == nil && len(h) > from && strings.HasPrefix(cur, h) {
				from, head = len(h), len(h)
			}
			j, n := findContent(cur[from:], msgs[k].Text())
			if j < 0 {
				return nil, false
			}
			start, end := from+j, from+j+n
			if head >= 0 {
				start = head
			}
			// The turn runs to the end of its rendering: what the template
			// writes after the content (tool calls, the end-of-turn
			// token) is the model's to write too.
			end = max(end, len(strings.TrimRightFunc(cur, unicode.IsSpace)))
			spans = append(spans, chat.Span{Start: start, End: end})
		}
		prev = cur
	}
	return spans, true
}
