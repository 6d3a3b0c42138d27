package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

func TestGenerateUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"generate", "--prompt", "x"},
		{"generate", "--model", "m", "--max-new-tokens", "0"},
		{"generate", "--model", "m", "--top-p", "1.5"},
		{"generate", "--model", "m", "--temperature", "-1"},
		{"generate", "--model", "m", "--top-k", "-2"},
		{"generate", "--model", "m", "--min-p", "2"},
		{"generate", "--model", "m", "--repetition-penalty", "-1"},
		{"generate", "--model", "m", "--repetition-penalty", "0"},
		{"generate", "--model", "m", "--stop", ""},
		{"generate", "--model", "m", "--threads", "-1"},
		{"generate", "--model", "m", "--seed", "x"},
		{"generate", "--model", "m", "extra"},
		{"chat", "--max-new-tokens", "5"},
		{"chat", "--model", "m", "--top-p", "0"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := run(t, args...)
			if code != ExitUsage || out != "" {
				t.Fatalf("code %d (want %d), stdout %q, stderr %q", code, ExitUsage, out, errOut)
			}
		})
	}
}

func TestGenerateMissingModel(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.gguf")
	code, _, errOut := run(t, "generate", "--model", missing, "--prompt", "x")
	if code != ExitError || !strings.Contains(errOut, missing) {
		t.Fatalf("code %d, stderr %q; want %d and the file named", code, errOut, ExitError)
	}
}

// TestGenerateStories checks the reference: llama2.c's run.c greedy text of
// 200 tokens from BOS. The file ends with the newline run.c prints after
// the text; loft prints the text alone (the newline goes to stderr), so
// stdout must equal the file without its last byte. run.c drops the space
// its first token starts with, as the tokenizer's Strip decoder does.
func TestGenerateStories(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K")
	want, err := os.ReadFile(filepath.Join(dir, "expected_greedy_t0_n200.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wantText, ok := strings.CutSuffix(string(want), "\n")
	if !ok {
		t.Fatal("expected_greedy_t0_n200.txt does not end with run.c's newline")
	}
	for _, m := range []string{filepath.Join(dir, "hf"), filepath.Join(dir, "gguf", "stories260K-f32.gguf")} {
		t.Run(filepath.Base(m), func(t *testing.T) {
			code, out, errOut := run(t, "generate", "--model", m, "--prompt", "", "--max-new-tokens", "200", "--temperature", "0")
			if code != ExitOK {
				t.Fatalf("code %d, stderr %q", code, errOut)
			}
			if out != wantText {
				t.Errorf("greedy text differs from run.c's:\n got %q\nwant %q", out, wantText)
			}
			for _, s := range []string{"prompt 1 tokens", "prefill", "decode", "generated 200 tokens", "tokens/s"} {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %q", s, errOut)
				}
			}
		})
	}
}

// TestGenerateContinues checks that the text continues the prompt's: the
// first generated word keeps its space ("Once upon a" + " time"), which
// only a text's very first word loses.
func TestGenerateContinues(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	code, out, errOut := run(t, "generate", "--model", m, "--prompt", "Once upon a", "--max-new-tokens", "3", "--temperature", "0")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, " time") {
		t.Errorf("continuation of %q is %q, want it to start with %q", "Once upon a", out, " time")
	}
}

// TestGenerateSampled checks seeds and stop strings end to end: the same
// seed gives the same text, and --stop cuts that text right before the
// first occurrence of the stop string.
func TestGenerateSampled(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	args := []string{"generate", "--model", m, "--prompt", "Once upon a time", "--max-new-tokens", "120",
		"--temperature", "0.9", "--top-k", "40", "--top-p", "0.95", "--min-p", "0.02", "--repetition-penalty", "1.1", "--seed", "42"}
	code, a, errOut := run(t, args...)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	_, b, _ := run(t, args...)
	if a != b || a == "" {
		t.Fatalf("seed 42 twice gave different text:\n%q\n%q", a, b)
	}
	_, c, _ := run(t, append(args[:len(args)-1:len(args)-1], "43")...)
	if c == a {
		t.Errorf("seeds 42 and 43 gave the same text %q", a)
	}
	stop := " the "
	i := strings.Index(a, stop)
	if i < 0 {
		t.Fatalf("no %q in %q", stop, a)
	}
	code, cut, errOut := run(t, append(args, "--stop", "zzz", "--stop", stop)...)
	if code != ExitOK || cut != a[:i] {
		t.Errorf("with --stop %q: code %d, got %q, want %q (stderr %q)", stop, code, cut, a[:i], errOut)
	}
	if !strings.Contains(errOut, "stopped: stop string") {
		t.Errorf("stderr lacks the stop reason: %q", errOut)
	}
}

// TestChatPiped feeds two user lines on stdin and checks each reply against
// generating from the rendered conversation with the generate package.
func TestChatPiped(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	withStdin(t, "Hello\n\nTell me a story\n")
	code, _, errOut := run(t, "chat", "--model", m)
	if code != ExitError || !strings.Contains(errOut, "no chat template") || !strings.Contains(errOut, "--chat-template chatml") {
		t.Fatalf("a model without a template: code %d, stderr %q", code, errOut)
	}

	withStdin(t, "Hello\n\nTell me a story\n")
	code, out, errOut := run(t, "chat", "--model", m, "--chat-template", "chatml", "--system", "Be brief.", "--max-new-tokens", "30", "--temperature", "0")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	b, err := model.Load(m, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := chat.ChatML()
	msgs := []chat.Message{{Role: "system", Content: "Be brief."}}
	var want strings.Builder
	for _, user := range []string{"Hello", "Tell me a story"} {
		msgs = append(msgs, chat.Message{Role: "user", Content: user})
		s, err := tmpl.Render(msgs, chat.RenderOptions{AddGenerationPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := generate.Generate(context.Background(), b.LM, []generate.Request{{
			Prompt: b.Tokenizer.Encode(s, false), MaxNewTokens: 30, Stop: []string{"<|im_end|>"},
		}}, generate.Options{EOS: b.Gen.EOS, NewDecoder: generate.NewTextDecoder(b.Tokenizer, true)})
		if err != nil {
			t.Fatal(err)
		}
		reply := res.Rows[0].Text
		want.WriteString(reply + "\n")
		msgs = append(msgs, chat.Message{Role: "assistant", Content: reply})
	}
	if out != want.String() {
		t.Errorf("chat output differs:\n got %q\nwant %q", out, want.String())
	}
}

// withStdin makes os.Stdin read text until the test ends.
func withStdin(t *testing.T, text string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
}

// TestGenerateContextLimit checks both context errors on stories260K
// (context 512): a prompt over the limit fails before any work, and
// generation that fills the context stops with a notice.
func TestGenerateContextLimit(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	b, err := model.Load(m, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("The cat sat. ", 200)
	n := len(b.Tokenizer.Encode(long, false)) + 1 // BOS
	if n <= 512 {
		t.Fatalf("the long prompt has only %d tokens", n)
	}
	code, out, errOut := run(t, "generate", "--model", m, "--prompt", long, "--max-new-tokens", "5")
	if code != ExitError || out != "" || !strings.Contains(errOut, fmt.Sprintf("%d tokens", n)) || !strings.Contains(errOut, "context length of 512") {
		t.Errorf("prompt of %d tokens: code %d, stdout %q, stderr %q", n, code, out, errOut)
	}
	// Cut the prompt to 500 tokens: 500 + 13 new tokens would need 513
	// positions, so the 13th token is the last.
	ids := b.Tokenizer.Encode(long, false)[:499]
	prompt := b.Tokenizer.Decode(ids, false)
	if got := len(b.Tokenizer.Encode(prompt, false)); got != 499 {
		t.Fatalf("re-encoded prompt has %d tokens, want 499", got)
	}
	code, _, errOut = run(t, "generate", "--model", m, "--prompt", prompt, "--max-new-tokens", "50")
	if code != ExitOK || !strings.Contains(errOut, "generated 13 tokens") || !strings.Contains(errOut, "context of 512 tokens is full") {
		t.Errorf("filling the context: code %d, stderr %q", code, errOut)
	}
}

// TestEndOfTurn checks how a chat reply ends: <|im_end|> is an EOS id where
// the tokenizer has it as one token (Qwen3), a stop string where it has not
// (stories260K's 512-token vocabulary).
func TestEndOfTurn(t *testing.T) {
	qwen, err := tokenizer.Load(testutil.SharedDir(t, "models", "qwen3-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	imEnd, ok := qwen.ID("<|im_end|>")
	if !ok {
		t.Fatal("the Qwen3 tokenizer has no <|im_end|>")
	}
	eos, stops := endOfTurn(&model.Bundle{Tokenizer: qwen, Gen: model.GenerationConfig{EOS: []int{151643}}}, chat.ChatML())
	if !slices.Equal(eos, []int{151643, imEnd}) || len(stops) != 0 {
		t.Errorf("qwen3: EOS %v, stops %q; want [151643 %d] and none", eos, stops, imEnd)
	}
	stories, err := tokenizer.Load(testutil.SharedDir(t, "models", "stories260K", "hf", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	eos, stops = endOfTurn(&model.Bundle{Tokenizer: stories, Gen: model.GenerationConfig{EOS: []int{2}}}, chat.ChatML())
	if !slices.Equal(eos, []int{2}) || !slices.Equal(stops, []string{"<|im_end|>"}) {
		t.Errorf("stories260K: EOS %v, stops %q; want [2] and [<|im_end|>]", eos, stops)
	}
}
