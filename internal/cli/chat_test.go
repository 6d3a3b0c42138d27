package cli

import (
	"strings"
	"testing"
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
