package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
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

// TestGenerateStatsOnOwnLine checks that the stats line starts a line of
// its own when it follows the text on one stream (2>&1 into a file or a
// pipe): a newline goes to stderr before it when the text does not end
// with one, and none when it does. Written to a file of its own, stderr
// has no empty line. stdout holds the text alone either way.
func TestGenerateStatsOnOwnLine(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	ref, err := os.ReadFile(testutil.SharedDir(t, "models", "stories260K", "expected_greedy_t0_n200.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Greedy from BOS, the first line of the reference ends at the word
	// that starts the second: --stop on that word leaves a text that
	// ends with a newline.
	first, after, ok := strings.Cut(string(ref), "\n")
	stop, _, _ := strings.Cut(after, " ")
	if !ok || stop == "" || strings.Contains(first, stop) {
		t.Fatalf("the reference text has no second line to stop at: %q", ref)
	}
	open := func(path string) *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	midLine := []string{"generate", "--model", m, "--prompt", "", "--max-new-tokens", "5"}
	endLine := []string{"generate", "--model", m, "--prompt", "", "--max-new-tokens", "200", "--stop", stop}
	text := "Once upon a time," // 5 tokens
	if !strings.HasPrefix(first, text+" ") {
		t.Fatalf("the reference text does not start with %q: %q", text, first)
	}
	for _, c := range []struct {
		name      string
		args      []string
		shared    bool   // stdout and stderr on one stream
		twoOpens  bool   // the one file opened twice (>f 2>>f)
		wantText  string // stdout
		wantBreak bool   // a newline on stderr before the stats
	}{
		{"2>&1, mid-line", midLine, true, false, text, true},
		{"two opens, mid-line", midLine, true, true, text, true},
		{"2>&1, line ended", endLine, true, false, first + "\n", false},
		{"own files, mid-line", midLine, false, false, text, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			outPath, errPath := filepath.Join(dir, "out"), filepath.Join(dir, "err")
			if c.shared {
				errPath = outPath
			}
			stdout := open(outPath)
			stderr := stdout
			if !c.shared || c.twoOpens {
				stderr = open(errPath)
			}
			code := Run(context.Background(), c.args, stdout, stderr)
			got := read(outPath)
			if code != ExitOK {
				t.Fatalf("code %d, output %q", code, got)
			}
			if !c.shared {
				errOut := read(errPath)
				if got != c.wantText || strings.Contains(errOut, "\n\n") {
					t.Errorf("stdout %q (want %q), stderr %q (want no empty line)", got, c.wantText, errOut)
				}
				return
			}
			// The stream: the model line, the text, the stats.
			head, rest, _ := strings.Cut(got, "\n")
			if !strings.Contains(head, "prompt tokens") {
				t.Fatalf("stream does not start with the model line: %q", got)
			}
			brk := ""
			if c.wantBreak {
				brk = "\n"
			}
			if !strings.HasPrefix(rest, c.wantText+brk+"loft: prompt ") {
				t.Errorf("stream %q, want the text %q, then %q and the stats line", got, c.wantText, brk)
			}
		})
	}
}

// TestGenerateGGUFFolder checks --model on a folder that holds .gguf files
// and no config.json: one file is loaded, as tokenize does; two are an
// error that names them and says to pick one with --model, for generate
// and chat alike, rather than "open config.json: no such file".
func TestGenerateGGUFFolder(t *testing.T) {
	src := testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a-f32.gguf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--prompt", "Once upon a", "--max-new-tokens", "8", "--temperature", "0"}
	_, want, _ := run(t, append([]string{"generate", "--model", src}, args...)...)
	code, out, errOut := run(t, append([]string{"generate", "--model", dir}, args...)...)
	if code != ExitOK || out != want || want == "" {
		t.Fatalf("one .gguf file: code %d, stdout %q (want %q), stderr %q", code, out, want, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "b-f32.gguf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{
		append([]string{"generate", "--model", dir}, args...),
		{"chat", "--model", dir},
	} {
		t.Run(cmd[0], func(t *testing.T) {
			withStdin(t, "Hi\n")
			code, out, errOut := run(t, cmd...)
			if code != ExitError || out != "" {
				t.Fatalf("code %d (want %d), stdout %q, stderr %q", code, ExitError, out, errOut)
			}
			for _, s := range []string{dir, "a-f32.gguf", "b-f32.gguf", "--model"} {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %q", s, errOut)
				}
			}
			if strings.Contains(errOut, "no such file") {
				t.Errorf("stderr speaks of a missing file: %q", errOut)
			}
		})
	}
}
