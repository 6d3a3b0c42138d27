package data

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Format is the layout of a training file.
type Format string

// The formats. An empty Format means "detect from the file".
const (
	FormatAuto       Format = ""
	FormatText       Format = "text"       // {"text": ...}, or a plain .txt file
	FormatCompletion Format = "completion" // {"prompt": ..., "completion": ...}
	FormatAlpaca     Format = "alpaca"     // {"instruction": ..., "input": ..., "output": ...}
	FormatChat       Format = "chat"       // {"messages": [{"role": ..., "content": ...}, ...]}
)

// ParseFormat reads a --format value: "auto" (or empty), "text",
// "completion" (also "prompt-completion", "completions"), "alpaca" or "chat".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "text":
		return FormatText, nil
	case "completion", "completions", "prompt-completion":
		return FormatCompletion, nil
	case "alpaca":
		return FormatAlpaca, nil
	case "chat":
		return FormatChat, nil
	}
	return "", fmt.Errorf("data: unknown format %q (want auto, text, completion, alpaca or chat)", s)
}

// describe names a format's keys for error messages.
func (f Format) describe() string {
	switch f {
	case FormatText:
		return `text ({"text"})`
	case FormatCompletion:
		return `completion ({"prompt", "completion"})`
	case FormatAlpaca:
		return `alpaca ({"instruction", "input", "output"})`
	case FormatChat:
		return `chat ({"messages"})`
	}
	return string(f)
}

// detect picks the format of a JSON object from its keys.
func detect(obj map[string]json.RawMessage) (Format, error) {
	has := func(k string) bool { _, ok := obj[k]; return ok }
	switch {
	case has("messages"):
		return FormatChat, nil
	case has("prompt") && has("completion"):
		return FormatCompletion, nil
	case has("instruction") && has("output"):
		return FormatAlpaca, nil
	case has("text"):
		return FormatText, nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	sort.Strings(keys)
	return "", fmt.Errorf("cannot tell the format from the keys {%s}: want \"text\", \"prompt\"+\"completion\", \"instruction\"+\"output\" or \"messages\" (or force one with --format)", strings.Join(keys, ", "))
}
