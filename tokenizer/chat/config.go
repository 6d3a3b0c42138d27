package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/tokenizer/internal/special"
)

// File names read by Load, as transformers names them.
const (
	ConfigFile       = special.ConfigFile
	SpecialMapFile   = special.MapFile
	TemplateFile     = "chat_template.jinja"
	ExtraTemplateDir = "additional_chat_templates"
)

// DefaultName is the name of a model's single or default chat template.
const DefaultName = "default"

// specialTokenKeys are the named special tokens transformers passes to chat
// templates when they are set (its SPECIAL_TOKENS_ATTRIBUTES).
var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// Config is what a model folder says about chat formatting: its chat
// templates and special-token settings.
type Config struct {
	// Dir is the folder the config was loaded from ("" for FromConfigJSON,
	// the source for NewConfig).
	Dir string
	// Templates maps a template name to its Jinja source. A model with one
	// template has it under DefaultName; nil when the model has none.
	Templates map[string]string
	// Special maps each named special token that is set ("bos_token",
	// "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
	// "mask_token") to its text. Unset tokens are absent, and so undefined
	// in templates, as in transformers.
	Special map[string]string
	// AdditionalSpecialTokens lists additional_special_tokens, in order.
	AdditionalSpecialTokens []string
	// AddBOSToken and AddEOSToken are add_bos_token and add_eos_token; nil
	// when the config does not set them (the tokenizer's own default applies).
	AddBOSToken, AddEOSToken *bool
	// ModelMaxLength is model_max_length; 0 when absent or when it is
	// transformers' "no limit" placeholder (1e30, anything past int64).
	ModelMaxLength int64

	// sources maps a template name to where it was read, for errors.
	sources map[string]string
	// folder is set by Load: errors then name the files looked at.
	folder bool
}

// BOSToken returns bos_token, or "" when unset.
func (c *Config) BOSToken() string { return c.Special["bos_token"] }

// EOSToken returns eos_token, or "" when unset.
func (c *Config) EOSToken() string { return c.Special["eos_token"] }

// UNKToken returns unk_token, or "" when unset.
func (c *Config) UNKToken() string { return c.Special["unk_token"] }

// PADToken returns pad_token, or "" when unset.
func (c *Config) PADToken() string { return c.Special["pad_token"] }

// Load reads the chat settings of the model folder dir: tokenizer_config.json,
// and chat_template.jinja, additional_chat_templates/NAME.jinja and
// special_tokens_map.json when present. As in transformers, chat_template.jinja
// replaces any template of the config and becomes the "default" one; the
// additional files add named templates; special_tokens_map.json counts only
// when the config has no added_tokens_decoder (older configs), and then its
// special tokens win over the config's (from_pretrained's legacy branch).
// A folder without any template loads fine (Template then reports it); a
// folder with neither tokenizer_config.json nor chat_template.jinja is an error.
func Load(dir string) (*Config, error) {
	cf, mf, err := special.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	tmplPath := filepath.Join(dir, TemplateFile)
	var c *Config
	if cf.Data != nil {
		if c, err = FromConfigJSON(cf.Data, cf.Path); err != nil {
			return nil, err
		}
	} else {
		if _, serr := os.Stat(tmplPath); serr != nil {
			return nil, fmt.Errorf("chat: %s has neither %s nor %s", dir, ConfigFile, TemplateFile)
		}
		c = &Config{Special: map[string]string{}}
	}
	c.Dir, c.folder = dir, true
	if mf.Data != nil {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(mf.Data, &raw); err != nil {
			return nil, fmt.Errorf("chat: %s: %v", mf.Path, jsonerr.Describe(mf.Data, err))
		}
		if err := c.setSpecials(raw, mf.Path); err != nil {
			return nil, err
		}
	}

	src, err := os.ReadFile(tmplPath)
	switch {
	case err == nil:
		c.Templates = map[string]string{DefaultName: string(src)}
		c.sources = map[string]string{DefaultName: tmplPath}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("chat: %w", err)
	}

	extra, err := filepath.Glob(filepath.Join(dir, ExtraTemplateDir, "*.jinja"))
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if len(extra) > 0 && c.Templates == nil {
		c.Templates, c.sources = map[string]string{}, map[string]string{}
	}
	for _, p := range extra {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".jinja")
		c.Templates[name] = string(src)
		c.sources[name] = p
	}
	return c, nil
}

// NewConfig builds a Config from templates (name → Jinja source; a single
// template should be named DefaultName) and special tokens ("bos_token" →
// "<s>"), for sources other than a model folder, such as a GGUF file's
// tokenizer.chat_template and tokenizer.chat_template.NAME metadata with
// the token texts its caller looked up. source names where they came from
// in errors.
func NewConfig(source string, templates, special map[string]string) *Config {
	c := &Config{Special: map[string]string{}}
	for k, v := range special {
		c.Special[k] = v
	}
	if len(templates) > 0 {
		c.Templates, c.sources = map[string]string{}, map[string]string{}
		for name, src := range templates {
			c.Templates[name] = src
			c.sources[name] = fmt.Sprintf("%s (chat template %q)", source, name)
		}
	}
	c.Dir = source
	return c
}

// FromConfigJSON parses the contents of a tokenizer_config.json; file names
// it in errors.
func FromConfigJSON(data []byte, file string) (*Config, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("chat: %s: %v", file, jsonerr.Describe(data, err))
	}
	if raw == nil {
		return nil, fmt.Errorf("chat: %s: expected a JSON object, got null", file)
	}
	c := &Config{Special: map[string]string{}}

	if t, ok := raw["chat_template"]; ok {
		if err := c.parseTemplates(t, file); err != nil {
			return nil, err
		}
	}
	if err := c.setSpecials(raw, file); err != nil {
		return nil, err
	}
	for key, dst := range map[string]**bool{"add_bos_token": &c.AddBOSToken, "add_eos_token": &c.AddEOSToken} {
		r, ok := raw[key]
		if !ok || isNull(r) {
			continue
		}
		var b bool
		if err := json.Unmarshal(r, &b); err != nil {
			return nil, fmt.Errorf("chat: %s: %s: expected true or false, got %s", file, key, r)
		}
		*dst = &b
	}
	if r, ok := raw["model_max_length"]; ok && !isNull(r) {
		n, err := parseMaxLength(r)
		if err != nil {
			return nil, fmt.Errorf("chat: %s: model_max_length: %w", file, err)
		}
		c.ModelMaxLength = n
	}
	return c, nil
}

// setSpecials sets the special tokens that raw, the object of file, sets:
// a token (null unsets it) replaces the one set before, and
// additional_special_tokens join those before.
func (c *Config) setSpecials(raw map[string]json.RawMessage, file string) error {
	for _, key := range specialTokenKeys {
		r, ok := raw[key]
		if !ok {
			continue
		}
		tok, set, err := special.Token(r)
		if err != nil {
			return fmt.Errorf("chat: %s: %s: %w", file, key, err)
		}
		if set {
			c.Special[key] = tok
		} else {
			delete(c.Special, key)
		}
	}
	if r, ok := raw["additional_special_tokens"]; ok && !isNull(r) {
		var list []json.RawMessage
		if err := json.Unmarshal(r, &list); err != nil {
			return fmt.Errorf("chat: %s: additional_special_tokens: expected a list: %w", file, err)
		}
		for i, item := range list {
			tok, set, err := special.Token(item)
			if err != nil {
				return fmt.Errorf("chat: %s: additional_special_tokens[%d]: %w", file, i, err)
			}
			if set && !slices.Contains(c.AdditionalSpecialTokens, tok) {
				c.AdditionalSpecialTokens = append(c.AdditionalSpecialTokens, tok)
			}
		}
	}
	return nil
}

// parseTemplates reads chat_template: a string, or a list of
// {"name": ..., "template": ...} objects.
func (c *Config) parseTemplates(r json.RawMessage, file string) error {
	r = bytes.TrimSpace(r)
	switch {
	case isNull(r):
		return nil
	case r[0] == '"':
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return fmt.Errorf("chat: %s: chat_template: %w", file, err)
		}
		c.Templates = map[string]string{DefaultName: s}
		c.sources = map[string]string{DefaultName: file + " (chat_template)"}
		return nil
	case r[0] == '[':
		var list []struct {
			Name     *string `json:"name"`
			Template *string `json:"template"`
		}
		if err := json.Unmarshal(r, &list); err != nil {
			return fmt.Errorf("chat: %s: chat_template: expected a string or a list of {\"name\", \"template\"} objects: %w", file, err)
		}
		c.Templates, c.sources = map[string]string{}, map[string]string{}
		for i, t := range list {
			if t.Name == nil || t.Template == nil {
				return fmt.Errorf("chat: %s: chat_template[%d]: needs both \"name\" and \"template\"", file, i)
			}
			c.Templates[*t.Name] = *t.Template
			c.sources[*t.Name] = fmt.Sprintf("%s (chat_template %q)", file, *t.Name)
		}
		return nil
	}
	return fmt.Errorf("chat: %s: chat_template: expected a string or a list of {\"name\", \"template\"} objects, got %.30s", file, r)
}

// Names returns the template names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Template compiles the chat template called name, with the config's
// special tokens. An empty name picks the model's template the way
// transformers does without a name: the single template, or the one named
// "default" (transformers picks "tool_use" instead when tools are given and
// such a template exists: ask for it by name). It is an error, naming the
// folder, when the model has no chat template: use ChatML explicitly then.
func (c *Config) Template(name string) (*Template, error) {
	where := c.Dir
	if where == "" {
		where = "the tokenizer config"
	}
	if len(c.Templates) == 0 {
		looked := ""
		if c.folder {
			looked = fmt.Sprintf(" (no chat_template in %s, no %s)", ConfigFile, TemplateFile)
		}
		return nil, fmt.Errorf("chat: %s has no chat template%s; choose one explicitly, such as ChatML", where, looked)
	}
	if name == "" {
		name = DefaultName
	}
	src, ok := c.Templates[name]
	if !ok {
		return nil, fmt.Errorf("chat: %s has no chat template named %q (it has %s)", where, name, strings.Join(c.Names(), ", "))
	}
	source := c.sources[name]
	if source == "" {
		source = where
	}
	t, err := compile(name, source, src)
	if err != nil {
		return nil, err
	}
	t.special = c.Special
	t.additional = c.AdditionalSpecialTokens
	return t, nil
}

// parseMaxLength reads model_max_length; values past int64 (transformers
// writes int(1e30) for "no limit") give 0.
func parseMaxLength(r json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(r, &n); err != nil {
		return 0, fmt.Errorf("expected a number, got %.30s", r)
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 {
			return 0, fmt.Errorf("negative: %d", i)
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil && !errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a number: %s", n)
	}
	if f < 0 {
		return 0, fmt.Errorf("negative: %s", n)
	}
	if f >= math.MaxInt64 || math.IsInf(f, 1) {
		return 0, nil
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("not an integer: %s", n)
	}
	return int64(f), nil
}

func isNull(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }
