package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFiles creates files (relative path → contents) in a fresh folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// configJSON encodes a tokenizer_config.json.
func configJSON(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func render(t *testing.T, tmpl *Template, msgs []Message, opts RenderOptions) string {
	t.Helper()
	got, err := tmpl.Render(msgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var hi = []Message{{Role: "user", Content: "hi"}}

func TestNamedTemplates(t *testing.T) {
	dir := writeFiles(t, map[string]string{ConfigFile: configJSON(t, map[string]any{
		"chat_template": []map[string]string{
			{"name": "default", "template": "D:{{ messages[0].content }}"},
			{"name": "tool_use", "template": "T:{{ tools|length }}"},
		},
	})})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Names(), ","); got != "default,tool_use" {
		t.Errorf("Names = %s", got)
	}
	def, err := cfg.Template("")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(t, def, hi, RenderOptions{}); got != "D:hi" {
		t.Errorf("default template rendered %q, want D:hi", got)
	}
	tu, err := cfg.Template("tool_use")
	if err != nil {
		t.Fatal(err)
	}
	tools := []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{"b":2}`)}
	if got := render(t, tu, hi, RenderOptions{Tools: tools}); got != "T:2" {
		t.Errorf("tool_use template rendered %q, want T:2", got)
	}
	_, err = cfg.Template("rag")
	if err == nil || !strings.Contains(err.Error(), `"rag"`) || !strings.Contains(err.Error(), "default, tool_use") {
		t.Errorf("unknown name: err = %v", err)
	}

	// A list without "default" has no template to pick by itself.
	cfg, err = FromConfigJSON([]byte(`{"chat_template": [{"name": "a", "template": "x"}]}`), "cfg.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Template(""); err == nil || !strings.Contains(err.Error(), `"default"`) {
		t.Errorf("no default: err = %v", err)
	}
	// Entries must have both keys.
	_, err = FromConfigJSON([]byte(`{"chat_template": [{"name": "a"}]}`), "cfg.json")
	if err == nil || !strings.Contains(err.Error(), "cfg.json") || !strings.Contains(err.Error(), "chat_template[0]") {
		t.Errorf("entry without template: err = %v", err)
	}
}

func TestTemplateFiles(t *testing.T) {
	// chat_template.jinja replaces the config's template; the extra folder
	// adds named ones.
	dir := writeFiles(t, map[string]string{
		ConfigFile:   configJSON(t, map[string]any{"chat_template": "CONFIG", "eos_token": "</s>"}),
		TemplateFile: "FILE:{{ messages[0].content }}{{ eos_token }}\n",
		filepath.Join(ExtraTemplateDir, "short.jinja"): "S",
	})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := cfg.Template("")
	if err != nil {
		t.Fatal(err)
	}
	// Jinja2 drops a single trailing newline of the source
	// (keep_trailing_newline is off in transformers).
	got := render(t, tmpl, hi, RenderOptions{})
	if got != "FILE:hi</s>" {
		t.Errorf("chat_template.jinja rendered %q, want %q", got, "FILE:hi</s>")
	}
	short, err := cfg.Template("short")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(t, short, hi, RenderOptions{}); got != "S" {
		t.Errorf("additional template rendered %q", got)
	}

	// A folder with only chat_template.jinja loads too.
	dir = writeFiles(t, map[string]string{TemplateFile: "only"})
	cfg, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl, err = cfg.Template(""); err != nil {
		t.Fatal(err)
	}
	if got := render(t, tmpl, nil, RenderOptions{}); got != "only" {
		t.Errorf("got %q", got)
	}
}

func TestMissingTemplate(t *testing.T) {
	dir := writeFiles(t, map[string]string{ConfigFile: `{"eos_token": "</s>"}`})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Template("")
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "no chat template") || !strings.Contains(err.Error(), "ChatML") {
		t.Errorf("err = %v, want one naming %s, saying it has no chat template and pointing at ChatML", err, dir)
	}
	// chat_template: null is the same as absent.
	cfg, err = FromConfigJSON([]byte(`{"chat_template": null}`), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Template(""); err == nil {
		t.Error("null chat_template gave a template")
	}

	empty := t.TempDir()
	_, err = Load(empty)
	if err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("empty folder: err = %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string // substrings of the error
	}{
		{"syntax", "{\n  \"eos_token\": \"</s>\",\n  \"chat_template\": oops\n}", []string{"line 3", "column"}},
		{"truncated", "{\n  \"eos_token\": \"</s", []string{"truncated"}},
		{"empty", "", []string{"empty file"}},
		{"not an object", "[1, 2]", []string{"line 1"}},
		{"template type", `{"chat_template": 5}`, []string{"chat_template", "expected a string"}},
		{"token type", `{"bos_token": 5}`, []string{"bos_token"}},
		{"token object", `{"bos_token": {"lstrip": false}}`, []string{"bos_token", "content"}},
		{"add_bos type", `{"add_bos_token": "yes"}`, []string{"add_bos_token"}},
		{"max length", `{"model_max_length": "big"}`, []string{"model_max_length"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{ConfigFile: tc.data})
			_, err := Load(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, filepath.Join(dir, ConfigFile)) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestBadTemplate(t *testing.T) {
	src := "{% for m in messages %}\n{{ m.content }}\n{% if m.role == %}\nx\n{% endif %}{% endfor %}"
	dir := writeFiles(t, map[string]string{TemplateFile: src})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Template("")
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{filepath.Join(dir, TemplateFile), "line 3", "{% if m.role == %}"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want it to mention %q", err, w)
		}
	}

	// In tokenizer_config.json: the error names the file and the template.
	cfg, err = FromConfigJSON([]byte(`{"chat_template": "{% if x %}never closed"}`), "tok/tokenizer_config.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Template("")
	if err == nil || !strings.Contains(err.Error(), "tok/tokenizer_config.json") || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("err = %v", err)
	}
}

func TestSpecialTokens(t *testing.T) {
	cfg, err := FromConfigJSON([]byte(`{
		"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
		"eos_token": "</s>",
		"unk_token": null,
		"pad_token": {"content": "<pad>"},
		"add_bos_token": true,
		"add_eos_token": false,
		"model_max_length": 1000000000000000019884624838656,
		"chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if unk_token is defined %}UNK{% endif %}|{{ pad_token }}"
	}`), "cfg.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BOSToken() != "<s>" || cfg.EOSToken() != "</s>" || cfg.PADToken() != "<pad>" || cfg.UNKToken() != "" {
		t.Errorf("tokens: bos %q eos %q pad %q unk %q", cfg.BOSToken(), cfg.EOSToken(), cfg.PADToken(), cfg.UNKToken())
	}
	if cfg.AddBOSToken == nil || !*cfg.AddBOSToken || cfg.AddEOSToken == nil || *cfg.AddEOSToken {
		t.Errorf("add_bos_token %v add_eos_token %v", cfg.AddBOSToken, cfg.AddEOSToken)
	}
	if cfg.ModelMaxLength != 0 {
		t.Errorf("model_max_length 1e30 gave %d, want 0 (no limit)", cfg.ModelMaxLength)
	}
	tmpl, err := cfg.Template("")
	if err != nil {
		t.Fatal(err)
	}
	// unk_token is null, so undefined in the template; the extra variable
	// pad_token overrides the config's, as kwargs do in transformers.
	got := render(t, tmpl, hi, RenderOptions{Extra: map[string]any{"pad_token": "P"}})
	if want := "<s>[user]hi</s>|P"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	for _, n := range []string{"2048", "2048.0", "1e30"} {
		c, err := FromConfigJSON([]byte(`{"model_max_length": `+n+`}`), "cfg.json")
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		want := map[string]int64{"2048": 2048, "2048.0": 2048, "1e30": 0}[n]
		if c.ModelMaxLength != want {
			t.Errorf("model_max_length %s = %d, want %d", n, c.ModelMaxLength, want)
		}
	}
}

func TestRaiseException(t *testing.T) {
	tmpl, err := New("strict", "test", "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('Unknown role: ' + m.role) }}{% endif %}{{ m.content }}{% endfor %}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := render(t, tmpl, hi, RenderOptions{}); got != "hi" {
		t.Errorf("got %q", got)
	}
	_, err = tmpl.Render([]Message{{Role: "robot", Content: "x"}}, RenderOptions{})
	var raised *RaisedError
	if !errors.As(err, &raised) || raised.Message != "Unknown role: robot" {
		t.Errorf("err = %v (%T), want RaisedError \"Unknown role: robot\"", err, err)
	}
}

func TestStrftimeNow(t *testing.T) {
	tmpl, err := New("date", "test", `{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%A %B %e, %H:%M:%S %I%p %j %y %%") }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2024, time.July, 5, 14, 3, 9, 0, time.UTC) }
	got := render(t, tmpl, nil, RenderOptions{Now: now})
	// 5 July 2024 was a Friday, day 187 of a leap year.
	if want := "05 Jul 2024|Friday July  5, 14:03:09 02PM 187 24 %"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExtraVariables(t *testing.T) {
	tmpl, err := New("extra", "test", `{{ mode }}/{{ n }}/{{ cfg|tojson }}/{{ documents is none }}/{{ tools is none }}/{{ enable_thinking is defined }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, tmpl, nil, RenderOptions{Extra: map[string]any{
		"mode": "fast", "n": 3, "cfg": json.RawMessage(`{"z": 1, "a": [true, null, 1.5, "x<y"]}`),
	}})
	// Keys keep their JSON order (z before a), separators as Python's
	// json.dumps, no HTML escaping.
	if want := `fast/3/{"z": 1, "a": [true, null, 1.5, "x<y"]}/True/True/False`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = tmpl.Render(nil, RenderOptions{Extra: map[string]any{"messages": "x"}})
	if err == nil || !strings.Contains(err.Error(), `"messages"`) {
		t.Errorf("reserved extra: err = %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	cfg := NewConfig("model.gguf", map[string]string{DefaultName: "{{ bos_token }}{{ messages[0].content }}", "rag": "{% if %}"},
		map[string]string{"bos_token": "<s>"})
	tmpl, err := cfg.Template("")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(t, tmpl, hi, RenderOptions{}); got != "<s>hi" {
		t.Errorf("got %q", got)
	}
	if _, err := cfg.Template("rag"); err == nil || !strings.Contains(err.Error(), `model.gguf (chat template "rag")`) {
		t.Errorf("bad named template: err = %v", err)
	}
	if _, err := NewConfig("x.gguf", nil, nil).Template(""); err == nil || !strings.Contains(err.Error(), "x.gguf has no chat template") {
		t.Errorf("no template: err = %v", err)
	}
}

// TestSpecialTokensMap: a config without added_tokens_decoder (written
// before transformers 4.34) takes its special tokens from
// special_tokens_map.json too, whose keys win (from_pretrained's legacy
// branch); a config with added_tokens_decoder ignores the file.
func TestSpecialTokensMap(t *testing.T) {
	const tmpl = "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"
	specialMap := `{"bos_token": {"content": "<s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false},
		"eos_token": "</s>", "unk_token": null, "additional_special_tokens": ["<x>", "<y>"]}`
	for _, c := range []struct {
		name   string
		config map[string]any
		want   string
		unk    bool
		extra  string
	}{
		{"legacy", map[string]any{"chat_template": tmpl, "eos_token": "<|end|>", "unk_token": "<unk>", "additional_special_tokens": []string{"<y>", "<z>"}},
			"<s>hi</s>", false, "<y>,<z>,<x>"},
		{"added_tokens_decoder", map[string]any{"chat_template": tmpl, "eos_token": "<|end|>", "unk_token": "<unk>", "added_tokens_decoder": map[string]any{}},
			"hi<|end|>", true, ""},
	} {
		dir := writeFiles(t, map[string]string{ConfigFile: configJSON(t, c.config), "special_tokens_map.json": specialMap})
		cfg, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := cfg.Template("")
		if err != nil {
			t.Fatal(err)
		}
		if got := render(t, tm, hi, RenderOptions{}); got != c.want {
			t.Errorf("%s: rendered %q, want %q", c.name, got, c.want)
		}
		if _, ok := cfg.Special["unk_token"]; ok != c.unk {
			t.Errorf("%s: unk_token set %v, want %v", c.name, ok, c.unk)
		}
		if got := strings.Join(cfg.AdditionalSpecialTokens, ","); got != c.extra {
			t.Errorf("%s: additional_special_tokens %s, want %s", c.name, got, c.extra)
		}
	}
	// Without tokenizer_config.json, beside chat_template.jinja.
	dir := writeFiles(t, map[string]string{TemplateFile: tmpl, "special_tokens_map.json": specialMap})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BOSToken() != "<s>" || cfg.EOSToken() != "</s>" {
		t.Errorf("without a config: bos %q, eos %q", cfg.BOSToken(), cfg.EOSToken())
	}
	// A bad file is named.
	dir = writeFiles(t, map[string]string{TemplateFile: tmpl, "special_tokens_map.json": `{"bos_token": 3}`})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "special_tokens_map.json: bos_token") {
		t.Errorf("bad map: err %v", err)
	}
}
