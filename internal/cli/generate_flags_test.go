package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGreedyIgnoredFlagsWarn checks the one warning about sampling flags
// that greedy decoding ignores (transformers: "do_sample is False ...
// top_k is only used in sample-based generation modes"): it names those
// flags and --temperature, the text stays the greedy text, and
// --repetition-penalty, which greedy decoding applies, is not named.
func TestGreedyIgnoredFlagsWarn(t *testing.T) {
	greedyDir := writeTinyModel(t, false) // no generation_config.json
	sampleDir := writeTinyModel(t, true)  // do_sample true
	noSampleDir := writeTinyModel(t, false)
	if err := os.WriteFile(filepath.Join(noSampleDir, "generation_config.json"), []byte(`{"eos_token_id": 256}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"generate", "--prompt", "Hi", "--max-new-tokens", "8"}
	code, greedy, errOut := run(t, append(base, "--model", greedyDir)...)
	if code != ExitOK || strings.Contains(errOut, "warning") {
		t.Fatalf("no flags: code %d, stderr %q", code, errOut)
	}
	for _, c := range []struct {
		dir   string
		flags []string
		want  []string // in the warning; nil: no warning
		not   []string // not in the warning
	}{
		{greedyDir, []string{"--top-k", "5", "--seed", "3"}, []string{"--top-k, --seed have no effect", "no generation_config.json", "--temperature > 0"}, []string{"--top-p", "--min-p"}},
		{greedyDir, []string{"--top-p", "0.5", "--min-p", "0.1", "--repetition-penalty", "1"}, []string{"--top-p, --min-p have", "--temperature > 0"}, []string{"--repetition-penalty"}},
		{greedyDir, []string{"--temperature", "0", "--top-k", "5"}, []string{"--top-k has no effect", "--temperature 0 is greedy"}, nil},
		{noSampleDir, []string{"--min-p", "0.1"}, []string{"--min-p has no effect", "does not set do_sample"}, nil},
		{sampleDir, []string{"--temperature", "0", "--seed", "1"}, []string{"--seed has no effect", "--temperature 0 is greedy"}, nil},
		// Values that change nothing, sampling, and the repetition
		// penalty, which greedy decoding applies, give no warning.
		{greedyDir, []string{"--top-k", "0", "--top-p", "1", "--min-p", "0"}, nil, nil},
		{greedyDir, []string{"--repetition-penalty", "1.3"}, nil, nil},
		{greedyDir, []string{"--temperature", "0.8", "--top-k", "5", "--seed", "1"}, nil, nil},
		{sampleDir, []string{"--top-k", "5"}, nil, nil},
	} {
		t.Run(strings.Join(c.flags, " "), func(t *testing.T) {
			code, out, errOut := run(t, append(append(base, "--model", c.dir), c.flags...)...)
			if code != ExitOK {
				t.Fatalf("code %d, stderr %q", code, errOut)
			}
			var warn []string
			for _, l := range strings.Split(errOut, "\n") {
				if strings.HasPrefix(l, "loft: warning:") {
					warn = append(warn, l)
				}
			}
			if c.want == nil {
				if len(warn) > 0 {
					t.Errorf("unexpected warning %q", warn)
				}
				return
			}
			if len(warn) != 1 {
				t.Fatalf("want one warning, got %q (stderr %q)", warn, errOut)
			}
			for _, s := range c.want {
				if !strings.Contains(warn[0], s) {
					t.Errorf("warning lacks %q: %q", s, warn[0])
				}
			}
			for _, s := range c.not {
				if strings.Contains(warn[0], s) {
					t.Errorf("warning names %q: %q", s, warn[0])
				}
			}
			if c.dir == greedyDir && !strings.Contains(strings.Join(c.flags, " "), "repetition-penalty") && out != greedy {
				t.Errorf("text %q, want the greedy text %q", out, greedy)
			}
		})
	}
	// chat resolves its sampling flags the same way.
	withStdin(t, "Hi\n")
	code, _, errOut = run(t, "chat", "--model", greedyDir, "--max-new-tokens", "4", "--top-p", "0.9")
	if code != ExitOK || strings.Count(errOut, "loft: warning: --top-p has no effect") != 1 {
		t.Errorf("chat --top-p 0.9 on a greedy model: code %d, stderr %q", code, errOut)
	}
}

// TestAdapterOnce checks that a second --adapter is refused before the
// model loads, rather than the last one silently winning.
func TestAdapterOnce(t *testing.T) {
	for _, args := range [][]string{
		{"generate", "--model", "m", "--prompt", "x", "--adapter", "A", "--adapter", "B"},
		{"chat", "--model", "m", "--adapter", "A", "--adapter", "B"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, out, errOut := run(t, args...)
			if code != ExitUsage || out != "" {
				t.Fatalf("code %d (want %d), stdout %q, stderr %q", code, ExitUsage, out, errOut)
			}
			for _, s := range []string{"--adapter", "A, B", "one adapter", "loft merge"} {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %q", s, errOut)
				}
			}
		})
	}
}
