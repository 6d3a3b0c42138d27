//go:build linux

package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// withTerminalStdin makes os.Stdin the slave side of a new pseudo-terminal
// holding input, typed as if at the keyboard, until the test ends; it
// skips the test where no pseudo-terminal can be opened.
func withTerminalStdin(t *testing.T, input string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("no pseudo-terminal: unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("no pseudo-terminal: ptsname: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	// No echo: nobody reads the master's output side.
	if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err == nil {
		tio.Lflag &^= unix.ECHO
		unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio)
	}
	if _, err := master.WriteString(input); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = slave
	t.Cleanup(func() { os.Stdin = old; slave.Close() })
}

// TestChatTerminal drives loft chat on a terminal: a "> " prompt before
// each message, /reset forgets the conversation (the same message then
// gets the first reply again), a message past the context is refused with
// a hint and the session goes on, and /exit leaves with exit 0.
func TestChatTerminal(t *testing.T) {
	dir := writeTinyModel(t, false)
	args := []string{"chat", "--model", dir, "--max-new-tokens", "20", "--temperature", "0"}
	withStdin(t, "Hello\n")
	code, piped, errOut := run(t, args...)
	if code != ExitOK || piped == "" {
		t.Fatalf("piped: code %d, stdout %q, stderr %q", code, piped, errOut)
	}
	reply := strings.TrimSuffix(piped, "\n")

	withTerminalStdin(t, "Hello\n/reset\nHello\n"+strings.Repeat("a", 600)+"\n/exit\nnever read\n")
	code, out, errOut := run(t, args...)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	want := "> " + reply + "\n> > " + reply + "\n> > "
	if out != want {
		t.Errorf("stdout %q\nwant   %q", out, want)
	}
	for _, s := range []string{`template "default"`, "more than the model's context length of 512; /reset starts over"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("stderr lacks %q: %q", s, errOut)
		}
	}
}

// TestDevNullIsNotATerminal: /dev/null, the stdin of cron and systemd
// jobs, is a character device but no terminal, so chat reads it as piped
// input (no prompt, no commands).
func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("isTerminal(/dev/null) = true")
	}
}

// interruptingWriter calls Interrupt, as Ctrl-C does, at its write number
// at (counting from 1), and keeps what it is given.
type interruptingWriter struct {
	buf        strings.Builder // a field: embedded, its WriteString would bypass Write
	writes, at int
	it         *Interrupter
}

func (w *interruptingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes == w.at {
		if !w.it.Interrupt() {
			panic("Ctrl-C during a reply was not taken over")
		}
		if w.it.Interrupt() {
			panic("a second Ctrl-C in the same reply was taken over too")
		}
	}
	return w.buf.Write(p)
}

// TestChatInterruptReply: on a terminal, Ctrl-C during a reply ends that
// reply and chat goes back to its prompt; the question is dropped with
// the cut reply, so that asking it again gets the reply a fresh
// conversation gets. A second Ctrl-C in the same reply, and Ctrl-C at the
// prompt, are left to cancel the run.
func TestChatInterruptReply(t *testing.T) {
	dir := writeTinyModel(t, false)
	args := []string{"chat", "--model", dir, "--max-new-tokens", "20", "--temperature", "0"}
	withStdin(t, "Hello\n")
	code, piped, errOut := run(t, args...)
	if code != ExitOK || len(piped) < 3 {
		t.Fatalf("piped: code %d, stdout %q, stderr %q", code, piped, errOut)
	}
	reply := strings.TrimSuffix(piped, "\n")

	withTerminalStdin(t, "Hello\nHello\n/exit\n")
	it := new(Interrupter)
	out := &interruptingWriter{at: 2, it: it} // 1: the first "> ", 2: the reply's first text
	var errb strings.Builder
	if code := Run(WithInterrupter(context.Background(), it), args, out, &errb); code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	got := out.buf.String()
	first, rest, ok := strings.Cut(strings.TrimPrefix(got, "> "), "\n")
	if !ok || first == "" || !strings.HasPrefix(reply, first) || len(first) >= len(reply) {
		t.Errorf("stdout %q: the first reply %q is not a cut of %q", got, first, reply)
	}
	if want := "> " + reply + "\n> "; rest != want {
		t.Errorf("after the cut reply: %q, want %q", rest, want)
	}
	if !strings.Contains(errb.String(), "loft: reply interrupted") {
		t.Errorf("stderr %q does not say the reply was interrupted", errb.String())
	}
	if it.Interrupt() {
		t.Error("Ctrl-C is still taken over after chat ended")
	}
}
