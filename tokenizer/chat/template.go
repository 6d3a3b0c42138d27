package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	name   string // template name, such as "default"
	source string // where the template was read, for errors
	src    string // Jinja source
	tmpl   *jinja.Template
	// generation is set when the template marks assistant text with
	// {% generation %} blocks.
	generation bool

	special    map[string]string // named special tokens passed to the template
	additional []string          // additional_special_tokens
}

// RenderOptions are the arguments of Render besides the messages.
type RenderOptions struct {
	// AddGenerationPrompt appends the header of an assistant turn.
	AddGenerationPrompt bool
	// ContinueFinalMessage cuts the rendering right after the last
	// message's content, so a model continues that message (a prefill),
	// as transformers' continue_final_message does. It excludes
	// AddGenerationPrompt.
	ContinueFinalMessage bool
	// EnableThinking sets enable_thinking; nil leaves it undefined, which
	// templates such as Qwen3's read as "thinking on".
	EnableThinking *bool
	// Tools are the tool (function) schemas, one JSON object each; nil makes
	// tools none, as in transformers. Key order is kept.
	Tools []json.RawMessage
	// Documents are retrieval documents, one JSON object each; nil makes
	// documents none.
	Documents []json.RawMessage
	// Extra are further template variables (transformers' **kwargs). A value
	// may be a json.RawMessage (key order kept) or any value
	// jinja.FromGoValue takes. They may override special tokens, not the
	// variables above.
	Extra map[string]any
	// Now is the clock of strftime_now; nil means time.Now.
	Now func() time.Time
}

// RaisedError is the error a template raises with raise_exception.
type RaisedError struct {
	// Message is the template's message.
	Message string
}

// Error returns the template's message.
func (e *RaisedError) Error() string { return e.Message }

// chatMLSource is the ChatML format: each message as
// <|im_start|>ROLE\nCONTENT<|im_end|>\n, and <|im_start|>assistant\n as the
// generation prompt.
const chatMLSource = `{%- for message in messages %}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`

// ChatML returns the ChatML template, for models without a template of
// their own when the user asks for it explicitly.
func ChatML() *Template {
	t, err := compile("chatml", "the built-in ChatML template", chatMLSource)
	if err != nil {
		panic("chat: built-in ChatML template does not compile: " + err.Error())
	}
	return t
}

// New compiles a template given as source text (for example a --chat-template
// file). name and source (the file it came from) appear in errors; special
// holds the special tokens to pass ("bos_token" → "<s>"), and may be nil.
func New(name, source, src string, special map[string]string) (*Template, error) {
	t, err := compile(name, source, src)
	if err != nil {
		return nil, err
	}
	t.special = special
	return t, nil
}

// lineRE finds the line number in the engine's parse errors.
var lineRE = regexp.MustCompile(`line (\d+)`)

// compile parses src; parse errors name source and the template line.
func compile(name, source, src string) (*Template, error) {
	prepared, err := prepareSource(src)
	var tmpl *jinja.Template
	if err == nil {
		tmpl, err = engineCompile(prepared)
	}
	if err != nil {
		msg := fmt.Sprintf("chat: %s: template %q does not parse: %v", source, name, err)
		if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 {
				lines := strings.Split(src, "\n")
				if n <= len(lines) {
					msg += fmt.Sprintf("\n  template line %d: %s", n, strings.TrimSpace(lines[n-1]))
				}
			}
		}
		return nil, errors.New(msg)
	}
	return &Template{name: name, source: source, src: src, tmpl: tmpl,
		generation: strings.Contains(prepared, genFunc+"('generation')")}, nil
}

// engineCompile is jinja.Compile with a panic turned into an error: a
// model's template is input, and bad input must not crash the program.
func engineCompile(src string) (t *jinja.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the Jinja engine failed: %v", r)
		}
	}()
	return jinja.Compile(src)
}

// engineRender is RenderValues with a panic turned into an error.
func engineRender(t *jinja.Template, vars map[string]jinja.Value) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the Jinja engine failed: %v", r)
		}
	}()
	return t.RenderValues(vars)
}

// Name returns the template's name.
func (t *Template) Name() string { return t.name }

// Source returns the template's Jinja source.
func (t *Template) Source() string { return t.src }

// reserved are the variables Render sets itself; Extra may not set them.
var reserved = []string{"messages", "add_generation_prompt", "tools", "documents", "enable_thinking", "raise_exception", printFunc, tojsonFunc, genFunc}

// Render formats msgs with the template, as transformers'
// apply_chat_template(msgs, tokenize=False, ...) does.
func (t *Template) Render(msgs []Message, opts RenderOptions) (string, error) {
	return t.render(msgs, opts, false)
}

// Generation markers in a rendering made by RenderGeneration. U+FFFF is a
// noncharacter: no text should hold it.
const (
	genStart = "\uffffloft:generation\uffff"
	genEnd   = "\uffffloft:endgeneration\uffff"
)

// HasGeneration reports whether the template marks assistant text with
// {% generation %} ... {% endgeneration %} blocks.
func (t *Template) HasGeneration() bool { return t.generation }

// RenderGeneration renders like Render and also returns the byte spans of
// the text inside the template's {% generation %} blocks: the assistant
// text as the template author marks it, what transformers'
// return_assistant_tokens_mask uses. It is an error when the template has
// no such blocks (HasGeneration); use AssistantSpans then.
func (t *Template) RenderGeneration(msgs []Message, opts RenderOptions) (string, []Span, error) {
	if !t.generation {
		return "", nil, fmt.Errorf("chat: template %q has no {%% generation %%} blocks", t.name)
	}
	for i := range msgs {
		if strings.Contains(msgs[i].Content, "\uffff") || strings.Contains(msgs[i].ReasoningContent, "\uffff") {
			return "", nil, fmt.Errorf("chat: message %d holds U+FFFF, which RenderGeneration uses as a marker", i)
		}
	}
	marked, err := t.render(msgs, opts, true)
	if err != nil {
		return "", nil, err
	}
	var out strings.Builder
	var spans []Span
	open := -1
	for rest := marked; ; {
		i := strings.Index(rest, "\uffffloft:")
		if i < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:i])
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, genStart):
			if open >= 0 {
				return "", nil, fmt.Errorf("chat: template %q: nested {%% generation %%} blocks", t.name)
			}
			open = out.Len()
			rest = rest[len(genStart):]
		case strings.HasPrefix(rest, genEnd):
			if open < 0 {
				return "", nil, fmt.Errorf("chat: template %q: {%% endgeneration %%} without {%% generation %%}", t.name)
			}
			if out.Len() > open {
				spans = append(spans, Span{Start: open, End: out.Len()})
			}
			open = -1
			rest = rest[len(genEnd):]
		default:
			out.WriteString(rest[:len("\uffff")])
			rest = rest[len("\uffff"):]
		}
	}
	s := out.String()
	// ContinueFinalMessage may have cut the rendering inside a block.
	if open >= 0 && len(s) > open {
		spans = append(spans, Span{Start: open, End: len(s)})
	}
	return s, spans, nil
}

func (t *Template) render(msgs []Message, opts RenderOptions, marks bool) (string, error) {
	if opts.ContinueFinalMessage && opts.AddGenerationPrompt {
		return "", errors.New("chat: AddGenerationPrompt and ContinueFinalMessage exclude each other")
	}
	if opts.ContinueFinalMessage && len(msgs) == 0 {
		return "", errors.New("chat: ContinueFinalMessage needs at least one message")
	}
	vars, err := t.vars(msgs, opts)
	if err != nil {
		return "", fmt.Errorf("chat: template %q: %w", t.name, err)
	}
	vars[genFunc] = jinja.NewCallable(genFunc, func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if !marks {
			return jinja.NewString(""), nil
		}
		if len(args) == 1 && args[0].IsString() && args[0].AsString() == "generation" {
			return jinja.NewString(genStart), nil
		}
		return jinja.NewString(genEnd), nil
	})
	out, err := engineRender(t.tmpl, vars)
	if err != nil {
		var raised *RaisedError
		if errors.As(err, &raised) {
			return "", fmt.Errorf("chat: template %q raised: %w", t.name, err)
		}
		return "", fmt.Errorf("chat: template %q (from %s) failed: %w", t.name, t.source, err)
	}
	if opts.ContinueFinalMessage {
		return cutAfterFinal(out, &msgs[len(msgs)-1])
	}
	return out, nil
}

// cutAfterFinal ends out right after the last occurrence of the final
// message's content, as transformers does for continue_final_message: with
// the content's trailing whitespace when the template kept it, without it
// when the template trimmed it.
func cutAfterFinal(out string, final *Message) (string, error) {
	text := final.Content
	if final.Parts != nil {
		found := false
		for _, p := range final.Parts {
			if p.Type == "text" || p.Text != "" {
				text, found = p.Text, true // transformers continues the last text part
			}
		}
		if !found {
			return "", errors.New("chat: ContinueFinalMessage: the final message has no text part")
		}
	}
	stripped := strings.TrimFunc(text, isPySpace)
	loc := strings.LastIndex(out, stripped)
	if loc < 0 {
		return "", fmt.Errorf("chat: ContinueFinalMessage: the final message content %.40q is not in the rendering", stripped)
	}
	if kept := strings.TrimLeftFunc(text, isPySpace); strings.HasPrefix(out[loc:], kept) && kept == text {
		return out[:loc+len(kept)], nil
	}
	return out[:loc+len(stripped)], nil
}

// vars builds the template variables.
func (t *Template) vars(msgs []Message, opts RenderOptions) (map[string]jinja.Value, error) {
	vars := make(map[string]jinja.Value, 16)
	for k, v := range t.special {
		vars[k] = jinja.NewString(v)
	}
	if t.additional != nil {
		items := make([]jinja.Value, len(t.additional))
		for i, s := range t.additional {
			items[i] = jinja.NewString(s)
		}
		vars["additional_special_tokens"] = jinja.NewList(items)
	}
	for k, v := range opts.Extra {
		for _, r := range reserved {
			if k == r {
				return nil, fmt.Errorf("extra variable %q is set by Render itself; use RenderOptions", k)
			}
		}
		val, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("extra variable %q: %w", k, err)
		}
		vars[k] = val
	}

	items := make([]jinja.Value, len(msgs))
	for i := range msgs {
		v, err := msgs[i].value()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		items[i] = v
	}
	vars["messages"] = jinja.NewList(items)
	vars["add_generation_prompt"] = jinja.NewBool(opts.AddGenerationPrompt)
	for name, list := range map[string][]json.RawMessage{"tools": opts.Tools, "documents": opts.Documents} {
		if list == nil {
			vars[name] = jinja.None()
			continue
		}
		v, err := toValue(list)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		vars[name] = v
	}
	if opts.EnableThinking != nil {
		vars["enable_thinking"] = jinja.NewBool(*opts.EnableThinking)
	}

	vars["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := "raise_exception called"
		if len(args) > 0 {
			msg = valueText(args[0])
		}
		return jinja.Undefined(), &RaisedError{Message: msg}
	})
	vars[printFunc] = jinja.NewCallable(printFunc, func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 {
			return jinja.Undefined(), fmt.Errorf("%s takes one value", printFunc)
		}
		return jinja.NewString(pyStr(args[0])), nil
	})
	vars[tojsonFunc] = jinja.NewCallable(tojsonFunc, tojson)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if _, set := vars["strftime_now"]; !set {
		vars["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return jinja.Undefined(), errors.New("strftime_now takes one format string")
			}
			return jinja.NewString(strftime(now(), args[0].AsString())), nil
		})
	}
	return vars, nil
}

// valueText is a value as Jinja prints it.
func valueText(v jinja.Value) string {
	if v.IsString() {
		return v.AsString()
	}
	return v.String()
}

// strftime formats t like Python's time.strftime for the directives chat
// templates use; an unknown directive is kept as written.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
