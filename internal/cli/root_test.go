package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "loft "+Version) {
		t.Fatalf("version: code %d, stdout %q", code, out)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != ExitOK || !strings.Contains(out, "Available Commands") {
		t.Fatalf("--help: code %d, stdout %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"--no-such-flag"},
		{"version", "--no-such-flag"},
		{"version", "extra"},
		{"bench", "no-such-bench"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := run(t, args...)
			if code != ExitUsage {
				t.Fatalf("code %d, want %d; stderr %q", code, ExitUsage, errOut)
			}
			if !strings.Contains(errOut, "loft:") {
				t.Fatalf("stderr lacks an error message: %q", errOut)
			}
		})
	}
}
