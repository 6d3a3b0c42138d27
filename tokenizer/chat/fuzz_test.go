package chat

import (
	"strings"
	"testing"
)

// FuzzTemplate compiles and renders arbitrary templates: never a panic, and
// a template without tags renders as its own text (newlines normalised, one
// trailing newline dropped, as Jinja2 does).
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		chatMLSource, "{{ 'a' }} {% if true %}b{% endif %}", "{% raw %}{{ x }}{% endraw %}",
		"{{ {'a': {'b': 1}}|tojson }}", "{%- for m in messages[::-1] -%}{{ m.content.split('x')[-1] }}{% endfor %}",
		"{# c #}\n  {%+ if 1 +%}\n{% endif %}", "{{ raise_exception('no') }}", "{% set ns = namespace(a=1) %}{{ ns.a }}",
		"plain\r\ntext\n", "{{", "{%", "{#", "{{ '", "}}", "{% for %}",
	} {
		f.Add(s)
	}
	msgs := []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "<think>a</think>b"}}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := New("fuzz", "fuzz", src, map[string]string{"eos_token": "</s>"})
		if err != nil {
			return
		}
		got, err := tmpl.Render(msgs, RenderOptions{AddGenerationPrompt: true})
		if err != nil {
			return
		}
		if !strings.Contains(src, "{") {
			want := strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
			want = strings.TrimSuffix(want, "\n")
			if got != want {
				t.Errorf("plain text %q rendered %q", src, got)
			}
		}
	})
}

// FuzzConfig parses arbitrary tokenizer_config.json contents: never a panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"chat_template": "{{ bos_token }}", "bos_token": {"content": "<s>"}, "model_max_length": 1e30}`))
	f.Add([]byte(`{"chat_template": [{"name": "default", "template": "x"}], "add_bos_token": true}`))
	f.Add([]byte(`{"additional_special_tokens": ["<a>", {"content": "<b>"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := FromConfigJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		for _, name := range cfg.Names() {
			if tmpl, err := cfg.Template(name); err == nil {
				_, _ = tmpl.Render(nil, RenderOptions{})
			}
		}
	})
}
