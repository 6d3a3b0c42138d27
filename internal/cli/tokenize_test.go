package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

func TestTokenize(t *testing.T) {
	qwen := testutil.SharedDir(t, "models", "qwen3-tokenizer")
	stories := testutil.SharedDir(t, "models", "stories260K", "hf")
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, []byte("Once upon a time"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids := filepath.Join(t.TempDir(), "ids.txt")
	if err := os.WriteFile(ids, []byte("[9707, 1879]"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		// Ids from llama.cpp's Qwen2 test vectors ("Hello world", " Hello world").
		{[]string{"--model", qwen, "--text", "Hello world"}, "[9707,1879]\n"},
		{[]string{"--model", qwen, "--text", " Hello world"}, "[21927,1879]\n"},
		{[]string{"--model", qwen, "--decode", "--file", ids}, "Hello world\n"},
		{[]string{"--model", stories, "--file", file}, "[403,407,261,378]\n"},
		{[]string{"--model", stories, "--text", ""}, "[]\n"},
		{[]string{"--model", stories, "--decode", "--text", "403, 407"}, "Once upon\n"},
		{[]string{"--model", stories, "--decode", "--text", "403 407"}, "Once upon\n"},
		{[]string{"--model", stories, "--decode", "--text", "[]"}, "\n"},
		// Special tokens only when asked for: BOS 1 for the Llama-style tokenizer.
		{[]string{"--model", stories, "--text", "Once upon a time"}, "[403,407,261,378]\n"},
		{[]string{"--model", stories, "--text", "Once upon a time", "--add-special"}, "[1,403,407,261,378]\n"},
		{[]string{"--model", filepath.Join(stories, "tokenizer.json"), "--text", "Once"}, "[403]\n"},
		// GPT-2's vocab.json named alone: the pair beside it (ids of
		// "Hello world" in llama.cpp's GPT-2 test vectors).
		{[]string{"--model", testutil.SharedDir(t, "models", "gpt2-bpe", "vocab.json"), "--text", "Hello world"}, "[15496,995]\n"},
		{[]string{"--model", stories, "--decode", "--text", "[1,403,407,261,378,2]"}, "Once upon a time\n"},
		{[]string{"--model", stories, "--decode", "--add-special", "--text", "[1,403]"}, "<s> Once\n"},
	} {
		code, out, errOut := run(t, append([]string{"tokenize"}, c.args...)...)
		if code != ExitOK || out != c.want {
			t.Errorf("%q: code %d, stdout %q (want %q), stderr %q", c.args, code, out, c.want, errOut)
		}
	}
}

func TestTokenizeErrors(t *testing.T) {
	qwen := testutil.SharedDir(t, "models", "qwen3-tokenizer")
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--text", "x"}, ExitUsage, "--model is required"},
		{[]string{"--model", qwen}, ExitUsage, "exactly one of"},
		{[]string{"--model", qwen, "--text", "x", "--file", "y"}, ExitUsage, "exactly one of"},
		{[]string{"--model", qwen, "--decode", "--text", "1,x"}, ExitUsage, `"x" is not a token id`},
		{[]string{"--model", qwen, "--decode", "--text", "[1,"}, ExitUsage, "bad JSON"},
		{[]string{"--model", qwen, "--decode", "--text", "-3"}, ExitUsage, "negative"},
		{[]string{"--model", testutil.SharedDir(t, "models", "stories260K", "hf"), "--decode", "--text", "999999"}, ExitError, "out of range"},
		{[]string{"--model", empty, "--text", "x"}, ExitError, "no tokenizer.json"},
		{[]string{"--model", filepath.Join(empty, "nope"), "--text", "x"}, ExitError, "nope"},
		{[]string{"--model", qwen, "--file", filepath.Join(empty, "nope.txt")}, ExitError, "tokenize --file: open " + filepath.Join(empty, "nope.txt")},
		{[]string{"--model", testutil.SharedDir(t, "models", "stories260K", "gguf"), "--text", "x"}, ExitError, "2 .gguf files"},
	} {
		code, _, errOut := run(t, append([]string{"tokenize"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: code %d (want %d), stderr %q (want %q)", c.args, code, c.code, errOut, c.msg)
		}
	}
}

// TestTokenizeGGUF builds the tokenizer from stories260K's GGUF metadata
// alone and checks its ids equal those of the Hugging Face tokenizer.json on
// real text.
func TestTokenizeGGUF(t *testing.T) {
	g, err := loadTokenizer(testutil.SharedDir(t, "models", "stories260K", "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := loadTokenizer(testutil.SharedDir(t, "models", "stories260K", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range []string{"raw_text/tinystories_sample/train.jsonl", "raw_text/cuad_contract_clauses_en/train.jsonl", "raw_text/cn_laws/train.jsonl"} {
		for _, x := range jsonlTexts(t, testutil.SharedDir(t, "data", f), 10) {
			// Cut at 4000 bytes, without the character the cut splits:
			// decoding gives U+FFFD for broken UTF-8, as HF's does.
			x = strings.ToValidUTF8(x[:min(len(x), 4000)], "")
			for _, special := range []bool{false, true} {
				a, b := g.Encode(x, special), hf.Encode(x, special)
				if !slices.Equal(a, b) {
					t.Fatalf("%.50q (special %v):\n gguf %v\n hf   %v", x, special, a[:min(len(a), 30)], b[:min(len(b), 30)])
				}
				n += len(a)
			}
			if got := g.Decode(g.Encode(x, false), false); got != x {
				t.Fatalf("GGUF round trip of %.50q gave %.50q", x, got)
			}
		}
	}
	t.Logf("%d tokens equal", n)
}

// jsonlTexts returns the "text" fields of the first max rows of a JSON Lines file.
func jsonlTexts(t *testing.T, path string, max int) []string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	var out []string
	for sc.Scan() && len(out) < max {
		var row struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, row.Text)
	}
	return out
}
