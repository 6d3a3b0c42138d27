package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/model"
)

// TestChatTemplateFlag checks how --chat-template resolves: a file is read
// whatever its extension, a directory is refused as one, and a name the
// model lacks is reported as such, with the names it has.
func TestChatTemplateFlag(t *testing.T) {
	dir := writeTinyModel(t, false)
	b, err := model.Load(dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The same model without a chat template.
	bare := writeTinyModel(t, false)
	if err := os.WriteFile(filepath.Join(bare, "tokenizer_config.json"), []byte(`{"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	names := strings.Join(b.Chat.Names(), ", ")

	tmp := t.TempDir()
	src := "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<|end|>\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
	for _, n := range []string{"plain.jinja", "t.j2", "tmpl"} {
		if err := os.WriteFile(filepath.Join(tmp, n), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(tmp, "d.jinja"), 0o755); err != nil {
		t.Fatal(err)
	}
	chatRun := func(model, tmpl string) (int, string, string) {
		withStdin(t, "Hi\n")
		return run(t, "chat", "--model", model, "--chat-template", tmpl, "--max-new-tokens", "6", "--verbose")
	}
	code, want, errOut := chatRun(dir, filepath.Join(tmp, "plain.jinja"))
	if code != ExitOK || !strings.Contains(errOut, `template "plain.jinja"`) {
		t.Fatalf("plain.jinja: code %d, stderr %q", code, errOut)
	}
	t.Chdir(tmp) // a bare file name is looked up in the working folder
	for _, c := range []struct {
		name, model, tmpl string
		want              []string // in stderr; nil: the reply of plain.jinja
	}{
		{"j2", dir, filepath.Join(tmp, "t.j2"), nil},
		{"bare file name", dir, "t.j2", nil},
		{"no extension", bare, "tmpl", nil},
		{"directory", dir, tmp, []string{tmp, "is a directory"}},
		{"directory .jinja", dir, "d.jinja", []string{"d.jinja", "is a directory"}},
		{"missing path", dir, filepath.Join(tmp, "none.j2"), []string{"none.j2", "no such file"}},
		{"unknown name", dir, "zephyr", []string{`no chat template named "zephyr"`, "it has " + names, "chatml", "FILE"}},
		{"unknown name, no templates", bare, "zephyr", []string{`no chat template named "zephyr"`, "it has none", "chatml", "FILE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := chatRun(c.model, c.tmpl)
			if c.want == nil {
				if code != ExitOK || out != want {
					t.Errorf("code %d, stdout %q (want %q), stderr %q", code, out, want, errOut)
				}
				return
			}
			if code != ExitError {
				t.Fatalf("code %d, want %d; stderr %q", code, ExitError, errOut)
			}
			for _, s := range c.want {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %q", s, errOut)
				}
			}
			if strings.Contains(errOut, "tokenizer_config.json") {
				t.Errorf("stderr speaks of the model's missing template: %q", errOut)
			}
		})
	}
	// A template the model has by name wins over a file of that name.
	named := writeTinyModel(t, false)
	if err := os.WriteFile(filepath.Join(named, "tokenizer_config.json"), mustJSON(t, map[string]any{
		"chat_template": []map[string]string{{"name": "default", "template": tinyChatTemplate}, {"name": "tmpl", "template": tinyChatTemplate}},
		"eos_token":     "<|im_end|>", "pad_token": "<|endoftext|>",
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, own, _ := chatRun(dir, "")
	if code, out, errOut := chatRun(named, "tmpl"); code != ExitOK || out != own || out == want {
		t.Errorf("the model's template tmpl beside a file tmpl: code %d, stdout %q, want the ChatML reply %q; stderr %q", code, out, own, errOut)
	}
}
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
