package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

// IgnoreIndex marks a label or target that does not count in the loss
// (PyTorch's cross_entropy ignore_index).
const IgnoreIndex = -100

// Example is one tokenized training sequence.
type Example struct {
	IDs    []int32 // (n) token ids
	Labels []int32 // (n) IDs[i], or IgnoreIndex where token i does not count in the loss
}

// Config says how files become examples.
type Config struct {
	// Tokenizer encodes the text; required.
	Tokenizer tokenizer.Tokenizer
	// Template is the model's chat template, nil when it has none. Chat
	// files need it, and so do completion and alpaca files with Chat.
	Template *chat.Template
	// RenderOptions are passed to the template (enable_thinking, tools...);
	// AddGenerationPrompt is ignored.
	RenderOptions chat.RenderOptions
	// BOS is the beginning-of-sequence id (-1: none); AddBOS says whether
	// text, completion and alpaca examples start with it (the tokenizer
	// config's add_bos_token, model.Bundle's Gen.AddBOS).
	BOS    int
	AddBOS bool
	// EOS is appended to text, completion and alpaca examples (-1: none).
	EOS int
	// Format forces the format of every JSON Lines file; FormatAuto
	// detects it per file.
	Format Format
	// SeqLen is the longest example, in tokens (> 0); longer ones are
	// truncated, and a .txt file is cut into blocks of SeqLen.
	SeqLen int
	// ContextLength is the model's context (0: unknown); a SeqLen above it
	// is an error.
	ContextLength int
	// TrainOnPrompt makes prompt and non-assistant tokens count too.
	TrainOnPrompt bool
	// Chat renders completion and alpaca examples as a user and an
	// assistant turn through Template.
	Chat bool
}

// check validates the config before any file is read.
func (c *Config) check() error {
	if c.Tokenizer == nil {
		return errors.New("data: no tokenizer")
	}
	if c.SeqLen <= 0 {
		return fmt.Errorf("data: --seq-len must be positive, got %d", c.SeqLen)
	}
	if c.ContextLength > 0 && c.SeqLen > c.ContextLength {
		return fmt.Errorf("data: --seq-len %d exceeds the model's context length %d", c.SeqLen, c.ContextLength)
	}
	if c.Chat && c.Template == nil {
		return errors.New("data: --chat needs a chat template, and the model has none (--chat-template chatml gives it ChatML)")
	}
	if c.Format != FormatAuto {
		if _, err := ParseFormat(string(c.Format)); err != nil {
			return err
		}
	}
	return nil
}

// Origin is where an example came from.
type Origin struct {
	File string
	Line int // 1-based line of a JSON Lines file; the block number for a .txt
}

// FileInfo describes one loaded file.
type FileInfo struct {
	Path     string
	Format   Format
	Examples int // examples kept
}

// Dataset is the examples of one or more files, in file order.
type Dataset struct {
	Examples []Example
	Origins  []Origin // (len(Examples)) where each example came from
	Files    []FileInfo
	// Truncated counts examples cut to SeqLen (the trainer warns).
	Truncated int
	// Dropped counts examples left with no counted target after
	// truncation (a prompt longer than SeqLen): they are left out.
	Dropped int
}

// Tokens returns the total number of tokens and of counted targets: the
// counted labels but a first token's, which no position predicts. Unpacked
// or packed, the batches of one epoch count exactly these targets.
func (d *Dataset) Tokens() (tokens, counted int) {
	for _, ex := range d.Examples {
		tokens += len(ex.IDs)
		for _, l := range ex.Labels[min(1, len(ex.Labels)):] {
			if l != IgnoreIndex {
				counted++
			}
		}
	}
	return tokens, counted
}

// Summary describes the dataset in one line for the trainer's log, such
// as "300 examples from 1 file (text), 40252 tokens, 39952 counted; 2
// truncated to --seq-len 256; 1 dropped (nothing left to learn)".
func (d *Dataset) Summary(seqLen int) string {
	tokens, counted := d.Tokens()
	var formats []string
	seen := map[Format]bool{}
	for _, f := range d.Files {
		if !seen[f.Format] {
			seen[f.Format] = true
			formats = append(formats, string(f.Format))
		}
	}
	files := "files"
	if len(d.Files) == 1 {
		files = "file"
	}
	examples := "examples"
	if len(d.Examples) == 1 {
		examples = "example"
	}
	s := fmt.Sprintf("%d %s from %d %s (%s), %d tokens, %d counted", len(d.Examples), examples, len(d.Files), files,
		strings.Join(formats, ", "), tokens, counted)
	if d.Truncated > 0 {
		s += fmt.Sprintf("; %d truncated to --seq-len %d", d.Truncated, seqLen)
	}
	if d.Dropped > 0 {
		s += fmt.Sprintf("; %d dropped (nothing left to learn after truncation)", d.Dropped)
	}
	return s
}

// LineError is a problem with one line of a data file.
type LineError struct {
	File string
	Line int // 1-based; 0 for a problem with the whole file
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("data: %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("data: %s:%d: %s", e.File, e.Line, e.Msg)
}

// Load reads and tokenizes the files in order. Errors name the file and
// line.
func Load(cfg Config, paths ...string) (*Dataset, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("data: no data files")
	}
	ds := &Dataset{}
	for _, p := range paths {
		if err := loadFile(&cfg, p, ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func loadFile(cfg *Config, path string, ds *Dataset) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if strings.EqualFold(filepath.Ext(path), ".txt") {
		return loadText(cfg, path, raw, ds)
	}
	recs, format, err := parseJSONL(cfg, path, raw)
	if err != nil {
		return err
	}
	if recs[0].msgs != nil && cfg.Template == nil {
		return &LineError{File: path, Msg: fmt.Sprintf("%s data needs a chat template, and the model has none (loft train --chat-template chatml gives it ChatML)", format)}
	}
	exs := make([]Example, len(recs))
	trunc := make([]bool, len(recs))
	errs := make([]error, len(recs))
	enc := newEncoder(cfg)
	// Tokenizers and templates are safe for concurrent use: encode the
	// lines on all cores, then keep file order.
	workers := min(runtime.GOMAXPROCS(0), len(recs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				exs[i], trunc[i], errs[i] = enc.encode(&recs[i])
			}
		}()
	}
	wg.Wait()
	info := FileInfo{Path: path, Format: format}
	for i := range recs {
		if errs[i] != nil {
			return &LineError{File: path, Line: recs[i].line, Msg: errs[i].Error()}
		}
		if trunc[i] {
			ds.Truncated++
		}
		if !counts(exs[i].Labels) {
			ds.Dropped++
			continue
		}
		ds.Examples = append(ds.Examples, exs[i])
		ds.Origins = append(ds.Origins, Origin{File: path, Line: recs[i].line})
		info.Examples++
	}
	ds.Files = append(ds.Files, info)
	return nil
}

// counts reports whether any label becomes a counted target (the first
// token is never a target).
func counts(labels []int32) bool {
	for _, l := range labels[min(1, len(labels)):] {
		if l != IgnoreIndex {
			return true
		}
	}
	return false
}

// loadText cuts a raw text file into SeqLen blocks.
func loadText(cfg *Config, path string, raw []byte, ds *Dataset) error {
	if cfg.Format != FormatAuto && cfg.Format != FormatText {
		return &LineError{File: path, Msg: fmt.Sprintf("a .txt file is raw text; it cannot be read as %s", cfg.Format)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return &LineError{File: path, Msg: "empty file"}
	}
	enc := newEncoder(cfg)
	ids, labels := enc.text(string(raw))
	info := FileInfo{Path: path, Format: FormatText}
	for start, n := 0, 0; start < len(ids); start += cfg.SeqLen {
		end := min(start+cfg.SeqLen, len(ids))
		n++
		if end-start < 2 {
			break // a lone token has nothing to predict
		}
		ds.Examples = append(ds.Examples, Example{IDs: ids[start:end:end], Labels: labels[start:end:end]})
		ds.Origins = append(ds.Origins, Origin{File: path, Line: n})
		info.Examples++
	}
	ds.Files = append(ds.Files, info)
	return nil
}

// record is one parsed line, before tokenization.
type record struct {
	line int
	// text, or the prompt and completion (completion, and alpaca without
	// Chat), or the conversation (chat, and completion/alpaca with Chat).
	text               string
	prompt, completion string
	msgs               []chat.Message
	tools              []json.RawMessage // the line's "tools", for the template
}

// parseJSONL parses every non-empty line of a JSON Lines file.
func parseJSONL(cfg *Config, path string, raw []byte) ([]record, Format, error) {
	format := cfg.Format
	var recs []record
	detectedAt := 0
	lineNo := 0
	for len(raw) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lerr := func(format string, args ...any) error {
			return &LineError{File: path, Line: lineNo, Msg: fmt.Sprintf(format, args...)}
		}
		if line[0] != '{' {
			return nil, "", lerr("not a JSON object (each line of a JSON Lines file is one {...} object)")
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			return nil, "", lerr("bad JSON: %v", err)
		}
		if format == FormatAuto {
			f, err := detect(obj)
			if err != nil {
				return nil, "", lerr("%v", err)
			}
			format, detectedAt = f, lineNo
		}
		rec, err := parseRecord(cfg, obj, format)
		if err != nil {
			if detectedAt > 0 {
				return nil, "", lerr("%v (the file is %s, detected from line %d)", err, format.describe(), detectedAt)
			}
			return nil, "", lerr("%v (the format is %s)", err, format.describe())
		}
		rec.line = lineNo
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil, "", &LineError{File: path, Msg: "empty file: no JSON lines"}
	}
	return recs, format, nil
}

// alpacaPrompt and alpacaPromptInput are the Stanford Alpaca templates
// (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT).
const (
	alpacaPrompt      = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n"
	alpacaPromptInput = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n"
)

// parseRecord reads the fields of format from obj.
func parseRecord(cfg *Config, obj map[string]json.RawMessage, format Format) (record, error) {
	var r record
	var err error
	switch format {
	case FormatText:
		r.text, err = stringField(obj, "text", true)
	case FormatCompletion:
		if r.prompt, err = stringField(obj, "prompt", true); err != nil {
			return r, err
		}
		if r.completion, err = stringField(obj, "completion", true); err != nil {
			return r, err
		}
		if cfg.Chat {
			r.msgs = []chat.Message{{Role: "user", Content: r.prompt}, {Role: "assistant", Content: r.completion}}
		}
	case FormatAlpaca:
		var instr, input string
		if instr, err = stringField(obj, "instruction", true); err != nil {
			return r, err
		}
		if input, err = stringField(obj, "input", false); err != nil {
			return r, err
		}
		if r.completion, err = stringField(obj, "output", true); err != nil {
			return r, err
		}
		if cfg.Chat {
			user := instr
			if input != "" {
				user += "\n" + input
			}
			r.msgs = []chat.Message{{Role: "user", Content: user}, {Role: "assistant", Content: r.completion}}
		} else if input != "" {
			r.prompt = fmt.Sprintf(alpacaPromptInput, instr, input)
		} else {
			r.prompt = fmt.Sprintf(alpacaPrompt, instr)
		}
	case FormatChat:
		if r.msgs, err = parseMessages(cfg, obj); err != nil {
			return r, err
		}
		r.tools, err = parseTools(obj)
	default:
		err = fmt.Errorf("unknown format %q", format)
	}
	return r, err
}

// parseToolCalls reads a message's "tool_calls" as transformers passes them
// to chat templates: a list of {"type": "function", "function": {"name",
// "arguments"}} objects, arguments an object or a JSON-encoded string.
func parseToolCalls(raw json.RawMessage) ([]chat.ToolCall, error) {
	if kind := jsonKind(raw); kind != "a list" {
		return nil, fmt.Errorf(`"tool_calls" is %s, want a list of {"type": "function", "function": {"name", "arguments"}} objects`, kind)
	}
	var calls []chat.ToolCall
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, fmt.Errorf(`"tool_calls": %v`, err)
	}
	for j, c := range calls {
		if c.Function.Name == "" {
			return nil, fmt.Errorf(`tool call %d: missing "function": {"name"}`, j)
		}
	}
	return calls, nil
}

// parseTools reads a chat line's optional "tools", the function schemas the
// template renders (transformers' apply_chat_template(tools=...)).
func parseTools(obj map[string]json.RawMessage) ([]json.RawMessage, error) {
	raw, ok := obj["tools"]
	if !ok || jsonKind(raw) == "null" {
		return nil, nil
	}
	if kind := jsonKind(raw); kind != "a list" {
		return nil, fmt.Errorf(`"tools" is %s, want a list of function schemas`, kind)
	}
	var tools []json.RawMessage
	if err := json.Unmarshal(raw, &tools); err != nil {
		return nil, fmt.Errorf(`"tools": %v`, err)
	}
	for j, t := range tools {
		if kind := jsonKind(t); kind != "an object" {
			return nil, fmt.Errorf(`tool %d is %s, want an object`, j, kind)
		}
	}
	return tools, nil
}

// stringField returns obj[key] as a string. A required field must be
// present and not blank; an optional one may be absent, null or empty.
func stringField(obj map[string]json.RawMessage, key string, required bool) (string, error) {
	raw, ok := obj[key]
	if !ok {
		if required {
			return "", fmt.Errorf("missing %q", key)
		}
		return "", nil
	}
	if kind := jsonKind(raw); kind != "a string" {
		if kind == "null" && !required {
			return "", nil
		}
		return "", fmt.Errorf("%q is %s, want a string", key, kind)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%q: %v", key, err)
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("empty %q", key)
	}
	return s, nil
}

// jsonKind names the kind of a JSON value.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseMessages reads a chat line's "messages".
func parseMessages(cfg *Config, obj map[string]json.RawMessage) ([]chat.Message, error) {
	raw, ok := obj["messages"]
	if !ok {
		return nil, errors.New(`missing "messages"`)
	}
	if kind := jsonKind(raw); kind != "a list" {
		return nil, fmt.Errorf(`"messages" is %s, want a list of {"role", "content"} objects`, kind)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(`"messages": %v`, err)
	}
	if len(items) == 0 {
		return nil, errors.New(`empty "messages"`)
	}
	msgs := make([]chat.Message, len(items))
	assistant := false
	for i, item := range items {
		if kind := jsonKind(item); kind != "an object" {
			return nil, fmt.Errorf(`message %d is %s, want a {"role", "content"} object`, i, kind)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil {
			return nil, fmt.Errorf("message %d: %v", i, err)
		}
		role, err := stringField(m, "role", true)
		if err != nil {
			return nil, fmt.Errorf("message %d: %v", i, err)
		}
		var calls []chat.ToolCall
		if raw, ok := m["tool_calls"]; ok && jsonKind(raw) != "null" {
			if calls, err = parseToolCalls(raw); err != nil {
				return nil, fmt.Errorf("message %d (%s): %v", i, role, err)
			}
		}
		// A system prompt may be empty, and so may an assistant turn that
		// only calls tools; a user or assistant turn may not.
		content, err := stringField(m, "content", role != "system" && len(calls) == 0)
		if err == nil && role == "system" {
			if _, ok := m["content"]; !ok {
				err = errors.New(`missing "content"`)
			} else if jsonKind(m["content"]) != "a string" {
				err = fmt.Errorf(`"content" is %s, want a string`, jsonKind(m["content"]))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("message %d (%s): %v", i, role, err)
		}
		raw, has := m["content"]
		msgs[i] = chat.Message{Role: role, Content: content, ToolCalls: calls, NoContent: !has || jsonKind(raw) == "null"}
		for _, f := range []struct {
			key string
			to  *string
		}{{"reasoning_content", &msgs[i].ReasoningContent}, {"tool_call_id", &msgs[i].ToolCallID}, {"name", &msgs[i].Name}} {
			if *f.to, err = stringField(m, f.key, false); err != nil {
				return nil, fmt.Errorf("message %d (%s): %v", i, role, err)
			}
		}
		assistant = assistant || role == "assistant"
	}
	if !assistant && !cfg.TrainOnPrompt {
		return nil, errors.New("no assistant message to train on")
	}
	return msgs, nil
}
