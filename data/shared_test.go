package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer"
)

// firstKeys returns the format the first non-empty line of a JSON Lines
// file detects to, or an error when its keys match none.
func firstFormat(t *testing.T, path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return detect(obj)
		}
	}
	t.Fatalf("%s: empty", path)
	return "", nil
}

// TestSharedData loads every JSON Lines file of ../shared/data whose keys
// match a format, with the stories260K and Qwen3 tokenizers; files whose
// keys match none must fail with the error that says so.
func TestSharedData(t *testing.T) {
	root := testutil.SharedDir(t, "data")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stories := storiesConfig(t)
	stories.SeqLen = 512
	cfgs := map[string]Config{"stories260K": stories}
	if !testing.Short() {
		q, tm := qwen3(t)
		cfgs["qwen3"] = Config{Tokenizer: q, Template: tm, BOS: -1, EOS: 151645, SeqLen: 2048}
		// Alpaca files through the chat template: the chat path on real data.
		cfgs["qwen3-chat"] = Config{Tokenizer: q, Template: tm, BOS: -1, EOS: 151645, SeqLen: 2048, Chat: true}
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			var examples, tokens int
			var elapsed time.Duration
			for _, p := range files {
				rel, _ := filepath.Rel(root, p)
				format, derr := firstFormat(t, p)
				if cfg.Chat && format != FormatAlpaca && format != FormatCompletion && format != FormatChat {
					continue
				}
				start := time.Now()
				ds, err := Load(cfg, p)
				if derr != nil {
					var le *LineError
					if err == nil || !errors.As(err, &le) || le.Line != 1 || !strings.Contains(err.Error(), "cannot tell the format") {
						t.Errorf("%s: keys match no format, yet Load says %v", rel, err)
					}
					continue
				}
				elapsed += time.Since(start)
				if err != nil {
					t.Errorf("%s: %v", rel, err)
					continue
				}
				if ds.Files[0].Format != format {
					t.Errorf("%s: format %q, want %q", rel, ds.Files[0].Format, format)
				}
				if cfg.Chat {
					checkAnswers(t, cfg, p, ds)
				}
				n, _ := ds.Tokens()
				examples += len(ds.Examples)
				tokens += n
				t.Logf("%-50s %-10s %6d examples (%d truncated, %d dropped)", rel, format, len(ds.Examples), ds.Truncated, ds.Dropped)
			}
			t.Logf("%s: %d examples, %d tokens in %v: %.0f examples/s, %.0f tokens/s", name, examples, tokens,
				elapsed.Round(time.Millisecond), float64(examples)/elapsed.Seconds(), float64(tokens)/elapsed.Seconds())
		})
	}
}

// checkAnswers checks that the counted tokens of each example of an alpaca
// file loaded with Chat decode to the empty think block Qwen3 renders before
// a last answer, its output and <|im_end|>.
func checkAnswers(t *testing.T, cfg Config, path string, ds *Dataset) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	bad := 0
	for i, ex := range ds.Examples {
		var rec struct{ Output string }
		if err := json.Unmarshal([]byte(lines[ds.Origins[i].Line-1]), &rec); err != nil {
			t.Fatal(err)
		}
		want := []string{"<think>\n\n</think>\n\n" + rec.Output + "<|im_end|>"}
		if got := runs(cfg.Tokenizer, ex); !slices.Equal(got, want) && bad < 3 {
			bad++
			t.Errorf("%s:%d: counted %.80q, want %.80q", path, ds.Origins[i].Line, got, want)
		}
	}
}

var _ tokenizer.Tokenizer = charTok{}
