package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load: it must return examples or an
// error naming the file, never panic, and every example must fit SeqLen
// with labels that are IgnoreIndex or the id.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		`{"text": "hi"}`,
		`{"prompt": "Q", "completion": "A"}` + "\n" + `{"prompt": "Q2", "completion": "B"}`,
		`{"instruction": "i", "input": "x", "output": "o"}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`,
		`{"messages": [{"role": "assistant", "content": "<|end|>"}, {"role": "user", "content": "<s>"}]}`,
		`{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "a</think>b"}]}`,
		"\ufeff" + `{"text": "bom"}` + "\r\n",
		`{"text": "a"}` + "\n" + `{"text": 1}`,
		`[1]`, `{`, "",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, content string, txt bool) {
		name := "f.jsonl"
		if txt {
			name = "f.txt"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := charConfig()
		cfg.SeqLen = 32
		cfg.Template = newTemplate(t, movingTemplate)
		ds, err := Load(cfg, p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i, ex := range ds.Examples {
			if len(ex.IDs) == 0 || len(ex.IDs) > cfg.SeqLen || len(ex.IDs) != len(ex.Labels) {
				t.Fatalf("example %d: %d ids, %d labels", i, len(ex.IDs), len(ex.Labels))
			}
			for j, l := range ex.Labels {
				if l != IgnoreIndex && l != ex.IDs[j] {
					t.Fatalf("example %d: label %d is %d, id %d", i, j, l, ex.IDs[j])
				}
			}
		}
	})
}
