package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures in testdata/ were rendered by Python's Jinja2, set up as
// transformers sets it up (testdata/gen_jinja2_fixtures.py): a reference
// implementation, not this package.

func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestJinja2Whitespace renders 400 random templates mixing text, blocks,
// comments, expressions and every whitespace-control marker.
func TestJinja2Whitespace(t *testing.T) {
	var fx struct {
		Cases []struct{ Src, Want string }
	}
	readFixture(t, "jinja2_whitespace.json", &fx)
	if len(fx.Cases) == 0 {
		t.Fatal("no cases")
	}
	bad := 0
	for i, c := range fx.Cases {
		tmpl, err := New("ws", "fixture", c.Src, nil)
		if err != nil {
			t.Errorf("case %d %q: %v", i, c.Src, err)
			bad++
			continue
		}
		got, err := tmpl.Render(nil, RenderOptions{})
		if err != nil {
			t.Errorf("case %d %q: %v", i, c.Src, err)
			bad++
			continue
		}
		if got != c.Want {
			t.Errorf("case %d %q:\n got %q\nwant %q", i, c.Src, got, c.Want)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many mismatches")
		}
	}
}

// TestJinja2Qwen3 renders conversations with the real Qwen3 template.
func TestJinja2Qwen3(t *testing.T) {
	_, tmpl := qwen3(t)
	var fx struct {
		Cases []struct {
			Name     string
			Messages []Message
			Options  struct {
				AddGenerationPrompt bool              `json:"add_generation_prompt"`
				EnableThinking      *bool             `json:"enable_thinking"`
				Tools               []json.RawMessage `json:"tools"`
			}
			Want string
		}
	}
	readFixture(t, "jinja2_qwen3.json", &fx)
	if len(fx.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := tmpl.Render(c.Messages, RenderOptions{
				AddGenerationPrompt: c.Options.AddGenerationPrompt,
				EnableThinking:      c.Options.EnableThinking,
				Tools:               c.Options.Tools,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Want {
				t.Errorf("\n got %q\nwant %q", got, c.Want)
			}
		})
	}
}
