package chat

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation, in the shape transformers passes to
// chat templates (the OpenAI chat format).
//
// Optional fields reach the template only when set: a template can then test
// them with "is defined". In particular an empty ReasoningContent is left
// out, so templates such as Qwen3's fall back to the <think> block in Content.
type Message struct {
	// Role is "system", "user", "assistant" or "tool" (or what the template knows).
	Role string `json:"role"`
	// Content is the text of the message.
	Content string `json:"-"`
	// NoContent marks a message without content (JSON null or no
	// "content" key, as an assistant turn that only calls tools): the
	// template sees content as none, as transformers passes None
	// (Python's json and datasets load both forms as None), so templates
	// that test "content is none" (DeepSeek-R1's) take their tool-call
	// branch. Content and Parts are then empty.
	NoContent bool `json:"-"`
	// Parts, when not nil, replaces Content: the template sees content as a
	// list of {"type", "text"} objects, as multimodal datasets write it.
	Parts []Part `json:"-"`
	// ReasoningContent is the assistant's reasoning, passed as
	// reasoning_content when not empty.
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// ToolCalls are the assistant's function calls, passed as tool_calls
	// when not empty.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a tool result to its call (tool_call_id).
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Name is the tool or participant name (name).
	Name string `json:"name,omitempty"`
}

// Part is one element of a message content given as a list.
type Part struct {
	// Type is the part kind, "text" for text.
	Type string `json:"type"`
	// Text is the text of a "text" part.
	Text string `json:"text,omitempty"`
}

// ToolCall is one function call made by the assistant.
type ToolCall struct {
	// ID is the call id, passed when not empty.
	ID string `json:"id,omitempty"`
	// Type is "function" (passed when not empty).
	Type string `json:"type,omitempty"`
	// Function names the function and its arguments.
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function part of a ToolCall.
type FunctionCall struct {
	// Name is the function name.
	Name string `json:"name"`
	// Arguments is either a JSON object (the Hugging Face form, rendered by
	// templates with |tojson, key order kept) or a JSON string holding the
	// encoded arguments (the OpenAI form, which templates print as is).
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// messageJSON is Message's wire form; content is a string, a list of parts or null.
type messageJSON struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`
	Name             string          `json:"name,omitempty"`
}

// UnmarshalJSON reads a message whose content is a string, a list of parts
// or null.
func (m *Message) UnmarshalJSON(data []byte) error {
	var w messageJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*m = Message{Role: w.Role, ReasoningContent: w.ReasoningContent, ToolCalls: w.ToolCalls,
		ToolCallID: w.ToolCallID, Name: w.Name}
	c := bytes.TrimSpace(w.Content)
	switch {
	case len(c) == 0 || string(c) == "null":
		m.NoContent = true
	case c[0] == '"':
		if err := json.Unmarshal(c, &m.Content); err != nil {
			return fmt.Errorf("content: %w", err)
		}
	case c[0] == '[':
		m.Parts = []Part{}
		if err := json.Unmarshal(c, &m.Parts); err != nil {
			return fmt.Errorf("content: %w", err)
		}
	default:
		return fmt.Errorf("content must be a string, a list of parts or null, got %.20s", c)
	}
	return nil
}

// MarshalJSON writes content as a string, as a list when Parts is set, or
// as null for NoContent.
func (m Message) MarshalJSON() ([]byte, error) {
	w := messageJSON{Role: m.Role, ReasoningContent: m.ReasoningContent, ToolCalls: m.ToolCalls,
		ToolCallID: m.ToolCallID, Name: m.Name}
	var err error
	switch {
	case m.NoContent:
		w.Content = json.RawMessage("null")
	case m.Parts != nil:
		w.Content, err = json.Marshal(m.Parts)
	default:
		w.Content, err = json.Marshal(m.Content)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// Text returns the message text: Content, or the text parts joined.
func (m *Message) Text() string {
	if m.Parts == nil {
		return m.Content
	}
	var b []byte
	for _, p := range m.Parts {
		if p.Type == "text" {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// value converts m to the dict a template sees.
func (m *Message) value() (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	d.Set("role", jinja.NewString(m.Role))
	if m.Parts != nil {
		parts := make([]jinja.Value, len(m.Parts))
		for i, p := range m.Parts {
			pv := jinja.NewDict()
			pv.AsDict().Set("type", jinja.NewString(p.Type))
			if p.Type == "text" || p.Text != "" {
				pv.AsDict().Set("text", jinja.NewString(p.Text))
			}
			parts[i] = pv
		}
		d.Set("content", jinja.NewList(parts))
	} else if m.NoContent {
		d.Set("content", jinja.None())
	} else {
		d.Set("content", jinja.NewString(m.Content))
	}
	if m.ReasoningContent != "" {
		d.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, tc := range m.ToolCalls {
			cv, err := tc.value()
			if err != nil {
				return jinja.Undefined(), fmt.Errorf("tool call %d: %w", i, err)
			}
			calls[i] = cv
		}
		d.Set("tool_calls", jinja.NewList(calls))
	}
	if m.ToolCallID != "" {
		d.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	if m.Name != "" {
		d.Set("name", jinja.NewString(m.Name))
	}
	return v, nil
}

// value converts tc to the dict a template sees.
func (tc *ToolCall) value() (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	if tc.ID != "" {
		d.Set("id", jinja.NewString(tc.ID))
	}
	if tc.Type != "" {
		d.Set("type", jinja.NewString(tc.Type))
	}
	f := jinja.NewDict()
	f.AsDict().Set("name", jinja.NewString(tc.Function.Name))
	if len(bytes.TrimSpace(tc.Function.Arguments)) > 0 {
		args, err := jsonToValue(tc.Function.Arguments)
		if err != nil {
			return jinja.Undefined(), fmt.Errorf("arguments of %q: %w", tc.Function.Name, err)
		}
		f.AsDict().Set("arguments", args)
	} else {
		f.AsDict().Set("arguments", jinja.NewDict())
	}
	d.Set("function", f)
	return v, nil
}
