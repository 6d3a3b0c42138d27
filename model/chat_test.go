package model_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/internal/testutil"
)

// TestFolderWithChatTemplate: a model folder with Qwen3's tokenizer files
// gets the tokenizer and its chat template; Qwen adds no BOS.
func TestFolderWithChatTemplate(t *testing.T) {
	tok := testutil.SharedDir(t, "models", "qwen3-tokenizer")
	dir := t.TempDir()
	link := func(src, name string) {
		abs, _ := filepath.Abs(filepath.Join(src, name))
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Join(refDir, "qwen3-tiny"), "config.json")
	link(filepath.Join(refDir, "qwen3-tiny"), "model.safetensors")
	link(tok, "tokenizer.json")
	link(tok, "tokenizer_config.json")
	b := load(t, dir)
	if b.Tokenizer == nil || b.Chat == nil || b.Chat.Templates == nil {
		t.Fatalf("tokenizer %v, chat %v", b.Tokenizer, b.Chat)
	}
	if b.Gen.AddBOS || !slices.Equal(b.Gen.EOS, []int{127}) {
		t.Fatalf("gen %+v", b.Gen)
	}
}

// rewriteGGUF copies the GGUF file src to dst with each metadata value
// passed through edit (nil: unchanged; a zero Value drops the key) and
// extra key-values appended.
func rewriteGGUF(t *testing.T, src, dst string, edit func(k string, v gguf.Value) gguf.Value, extra ...gguf.KV) {
	t.Helper()
	rewriteGGUFFile(t, src, dst, edit, nil, extra...)
}

// rewriteGGUFTensors rewrites the GGUF file at path with its tensors
// passed through edit.
func rewriteGGUFTensors(t *testing.T, path string, edit func([]gguf.Tensor) []gguf.Tensor) {
	t.Helper()
	rewriteGGUFFile(t, path, path, nil, edit)
}

// rewriteGGUFFile is rewriteGGUF with the tensor list also passed through
// editTensors (nil: unchanged). dst may be src.
func rewriteGGUFFile(t *testing.T, src, dst string, edit func(k string, v gguf.Value) gguf.Value, editTensors func([]gguf.Tensor) []gguf.Tensor, extra ...gguf.KV) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var kvs []gguf.KV
	for _, k := range f.Keys() {
		v, _ := f.Value(k)
		if edit != nil {
			v = edit(k, v)
		}
		if v.Interface() != nil {
			kvs = append(kvs, gguf.KV{Key: k, Value: v})
		}
	}
	var ts []gguf.Tensor
	for _, ti := range f.Tensors() {
		raw, _, err := f.Raw(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, gguf.Tensor{Name: ti.Name, Type: ti.Type, Dims: ti.Dims, Data: slices.Clone(raw)})
	}
	f.Close()
	if editTensors != nil {
		ts = editTensors(ts)
	}
	if err := gguf.Write(dst, append(kvs, extra...), ts); err != nil {
		t.Fatal(err)
	}
}

// TestGGUFChatTemplateAndArch: a GGUF's tokenizer.chat_template becomes the
// bundle's chat config with the special tokens' texts, and an unknown
// general.architecture is refused naming the file.
func TestGGUFChatTemplateAndArch(t *testing.T) {
	src := testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf")
	withChat := filepath.Join(t.TempDir(), "chat.gguf")
	tmpl := "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
	rewriteGGUF(t, src, withChat, nil, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.ValueOf(tmpl)})
	b := load(t, withChat)
	if b.Chat == nil || b.Chat.BOSToken() != "<s>" || b.Chat.EOSToken() != "</s>" || b.Chat.Templates["default"] != tmpl {
		t.Fatalf("chat %+v", b.Chat)
	}
	bad := filepath.Join(t.TempDir(), "mamba.gguf")
	rewriteGGUF(t, src, bad, func(k string, v gguf.Value) gguf.Value {
		if k == "general.architecture" {
			return gguf.ValueOf("mamba")
		}
		return v
	})
	_, err := loadErr(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"mamba"`) {
		t.Fatalf("error %v", err)
	}
}

// TestGGUFNamedChatTemplates: llama.cpp's converter writes a
// tokenizer_config.json list of chat templates as tokenizer.chat_template
// (the one named "default") and tokenizer.chat_template.NAME for the others
// (gguf-py's add_chat_template; llama_model_chat_template reads them by
// name). Every one is the bundle's, under its name, also when the file has
// no default.
func TestGGUFNamedChatTemplates(t *testing.T) {
	src := testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf")
	def, tool := "{{ bos_token }}{{ messages[0]['content'] }}", "{{ bos_token }}tools: {{ tools | length }}"
	both := filepath.Join(t.TempDir(), "both.gguf")
	rewriteGGUF(t, src, both, nil,
		gguf.KV{Key: "tokenizer.chat_template", Value: gguf.ValueOf(def)},
		gguf.KV{Key: "tokenizer.chat_template.tool_use", Value: gguf.ValueOf(tool)},
		gguf.KV{Key: "tokenizer.chat_templates", Value: gguf.ArrayOf([]string{"tool_use"})})
	b := load(t, both)
	if b.Chat == nil || len(b.Chat.Templates) != 2 || b.Chat.Templates["default"] != def || b.Chat.Templates["tool_use"] != tool {
		t.Fatalf("chat templates %v, want default and tool_use", b.Chat)
	}
	if _, err := b.Chat.Template("tool_use"); err != nil {
		t.Fatal(err)
	}
	only := filepath.Join(t.TempDir(), "only.gguf")
	rewriteGGUF(t, src, only, nil, gguf.KV{Key: "tokenizer.chat_template.rag", Value: gguf.ValueOf(tool)})
	b = load(t, only)
	if b.Chat == nil || len(b.Chat.Templates) != 1 || b.Chat.Templates["rag"] != tool || b.Chat.BOSToken() != "<s>" {
		t.Fatalf("chat %+v, want the template rag alone", b.Chat)
	}
}
