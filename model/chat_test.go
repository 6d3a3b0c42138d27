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

// TestGGUFChatTemplateAndArch: a GGUF's tokenizer.chat_template becomes the
// bundle's chat config with the special tokens' texts, and an unknown
// general.architecture is refused naming the file.
func TestGGUFChatTemplateAndArch(t *testing.T) {
	src := testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf")
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rewrite := func(path string, edit func(k string, v gguf.Value) gguf.Value, extra ...gguf.KV) {
		var kvs []gguf.KV
		for _, k := range f.Keys() {
			v, _ := f.Value(k)
			kvs = append(kvs, gguf.KV{Key: k, Value: edit(k, v)})
		}
		var ts []gguf.Tensor
		for _, ti := range f.Tensors() {
			raw, _, err := f.Raw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, gguf.Tensor{Name: ti.Name, Type: ti.Type, Dims: ti.Dims, Data: raw})
		}
		if err := gguf.Write(path, append(kvs, extra...), ts); err != nil {
			t.Fatal(err)
		}
	}
	same := func(k string, v gguf.Value) gguf.Value { return v }
	withChat := filepath.Join(t.TempDir(), "chat.gguf")
	tmpl := "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
	rewrite(withChat, same, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.ValueOf(tmpl)})
	b := load(t, withChat)
	if b.Chat == nil || b.Chat.BOSToken() != "<s>" || b.Chat.EOSToken() != "</s>" || b.Chat.Templates["default"] != tmpl {
		t.Fatalf("chat %+v", b.Chat)
	}
	bad := filepath.Join(t.TempDir(), "mamba.gguf")
	rewrite(bad, func(k string, v gguf.Value) gguf.Value {
		if k == "general.architecture" {
			return gguf.ValueOf("mamba")
		}
		return v
	})
	_, err = loadErr(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"mamba"`) {
		t.Fatalf("error %v", err)
	}
}
