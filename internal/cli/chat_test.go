package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestChatContextLimit checks both context messages of piped chat on the
// tiny model (context 512, one token per byte): a message that makes the
// conversation longer than the context fails with the token count and the
// limit, and a reply that fills the context stops with a notice on stderr
// while the reply itself still reaches stdout.
func TestChatContextLimit(t *testing.T) {
	dir := writeTinyModel(t, false)
	// ChatML wraps a user turn in 2 special tokens and 6 bytes
	// ("user\n", "\n"), the generation prompt adds 1 + 10 ("assistant\n"):
	// 19 tokens around the message.
	withStdin(t, strings.Repeat("a", 500)+"\n")
	code, out, errOut := run(t, "chat", "--model", dir, "--max-new-tokens", "5", "--temperature", "0")
	if code != ExitError || out != "" || !strings.Contains(errOut, "the conversation has 519 tokens, more than the model's context length of 512") {
		t.Errorf("a 519-token conversation: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	// 490 + 19 = 509 prompt tokens leave 3 positions: 3 new tokens are fed
	// back and a 4th is sampled from the last position's logits.
	withStdin(t, strings.Repeat("a", 490)+"\n")
	code, out, errOut = run(t, "chat", "--model", dir, "--max-new-tokens", "50", "--temperature", "0", "--verbose")
	if code != ExitOK || !strings.Contains(errOut, "generated 4 tokens") || !strings.Contains(errOut, "the reply stopped: the model's context of 512 tokens is full") {
		t.Errorf("filling the context: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if len(out) < 2 || !strings.HasSuffix(out, "\n") || strings.Contains(errOut, strings.TrimSuffix(out, "\n")) {
		t.Errorf("the reply %q is not on stdout alone, ended by a newline", out)
	}
}

// TestChatInterruptWhileWaiting: a cancelled context (Ctrl-C) ends chat
// while it waits for the user's next line, with the interrupted exit code,
// as llama.cpp's interactive mode exits at its prompt. The read from stdin
// cannot be interrupted: chat went on waiting until a line came.
func TestChatInterruptWhileWaiting(t *testing.T) {
	dir := writeTinyModel(t, false)
	r, w, err := os.Pipe() // a writer that never writes: a user who types nothing
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; w.Close(); r.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out, errOut bytes.Buffer
	go func() { done <- Run(ctx, []string{"chat", "--model", dir, "--temperature", "0"}, &out, &errOut) }()
	time.Sleep(200 * time.Millisecond) // let chat reach its read
	cancel()
	select {
	case code := <-done:
		if code != ExitInterrupted || out.Len() != 0 || !strings.Contains(errOut.String(), "context canceled") {
			t.Errorf("code %d, stdout %q, stderr %q; want %d and the cancellation", code, out.String(), errOut.String(), ExitInterrupted)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("chat still waits for a line 5 s after its context was cancelled")
	}
}
