package train

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarWithoutTerminalPrintsPlainLines(t *testing.T) {
	var buf bytes.Buffer
	b := newBar(&buf, 100, 0)
	for s := 1; s <= 100; s++ {
		b.step(StepStats{Step: s, Loss: 1.5}, 1000)
	}
	b.note("a note")
	b.finish()
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Fatalf("carriage returns in a log: %q", out)
	}
	// 100 fast steps: only the last one prints (the others fall inside the
	// ten-second interval), then the note.
	want := "train: step 100/100 loss 1.5000 | 1000 tok/s\na note\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}
