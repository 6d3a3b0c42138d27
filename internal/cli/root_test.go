package cli

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
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
	if code != ExitOK || !strings.HasPrefix(out, "loft "+Version+" ") || !strings.HasSuffix(out, " "+runtime.Version()+"\n") {
		t.Fatalf("version: code %d, stdout %q", code, out)
	}
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version()
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "loft " + Version + platform},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}},
			"loft " + Version + " (0123456789ab)" + platform},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "abc"}},
			"loft " + Version + " (abc, modified)" + platform},
	} {
		if got := versionLine(&debug.BuildInfo{Settings: c.settings}); got != c.want {
			t.Errorf("versionLine(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
	if got, want := versionLine(nil), "loft "+Version+platform; got != want {
		t.Errorf("versionLine(nil) = %q, want %q", got, want)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Available Commands"},
		{[]string{"help"}, "Available Commands"},
		{[]string{"help", "tokenize"}, "loft tokenize [flags]"},
		{[]string{"tokenize", "--help"}, "loft tokenize [flags]"},
		{[]string{"completion"}, "loft completion [command]"},
	} {
		code, out, errOut := run(t, c.args...)
		if code != ExitOK || !strings.Contains(out, c.want) || errOut != "" {
			t.Errorf("%q: code %d, stdout %q (want it to hold %q), stderr %q", c.args, code, out, c.want, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	// hint is the help command the message points to: the one of the
	// command that was called.
	for _, c := range []struct {
		args      []string
		msg, hint string
	}{
		{[]string{"no-such-command"}, `unknown command "no-such-command" for "loft"`, "loft --help"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag", "loft --help"},
		{[]string{"version", "--no-such-flag"}, "unknown flag: --no-such-flag", "loft version --help"},
		{[]string{"version", "extra"}, `version takes no arguments, got "extra"`, "loft version --help"},
		{[]string{"bench", "gemm", "extra"}, `bench gemm takes no arguments, got "extra"`, "loft bench gemm --help"},
		{[]string{"bench", "no-such-bench"}, `unknown benchmark "no-such-bench"`, "loft bench --help"},
		{[]string{"tokenize", "--model"}, "flag needs an argument: --model", "loft tokenize --help"},
		{[]string{"help", "no-such-command"}, `unknown help topic "no-such-command"`, "loft --help"},
		{[]string{"help", "bench", "no-such-bench"}, `unknown help topic "bench no-such-bench"`, "loft --help"},
		{[]string{"completion", "no-such-shell"}, `unknown command "no-such-shell" for "loft completion"`, "loft completion --help"},
		{[]string{"completion", "bash", "extra"}, `unknown command "extra" for "loft completion bash"`, "loft completion bash --help"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, c.args...)
			if code != ExitUsage {
				t.Fatalf("code %d, want %d; stderr %q", code, ExitUsage, errOut)
			}
			want := "loft: " + c.msg
			if !strings.HasPrefix(errOut, want) || !strings.HasSuffix(errOut, "Run '"+c.hint+"' for usage.\n") {
				t.Fatalf("stderr %q, want %q ... \"Run '%s' for usage.\"", errOut, want, c.hint)
			}
			if out != "" {
				t.Fatalf("stdout %q, want nothing", out)
			}
		})
	}
}

// TestVersionFlag: loft --version prints what loft version does, and a
// stray argument to a command that takes --model points at the flag.
func TestVersionFlag(t *testing.T) {
	_, want, _ := run(t, "version")
	if code, out, errOut := run(t, "--version"); code != ExitOK || out != want {
		t.Errorf("--version: code %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if code, _, errOut := run(t, "info", "some/model"); code != ExitUsage || !strings.Contains(errOut, `info takes no arguments, got "some/model" (give the model with --model)`) {
		t.Errorf("info ARG: code %d, stderr %q", code, errOut)
	}
}
