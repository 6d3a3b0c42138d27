// Package refdata reads the reference material that the tokenizer tests
// compare against: llama.cpp's tokenizer test vectors and lines of real text
// from ../shared/data.
package refdata

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// Vector is one llama.cpp test case: the text and the ids expected for it
// without special tokens.
type Vector struct {
	Text string
	IDs  []int
}

// Vectors reads llama.cpp's <base>.inp/.out pair from
// ../shared/models/<model>/testvectors, skipping the test when absent.
// Inputs are separated by "\n__ggml_vocab_test__\n"; line k of .out holds
// the ids of input k, space-separated.
func Vectors(t testing.TB, model, base string) []Vector {
	t.Helper()
	dir := testutil.SharedDir(t, "models", model, "testvectors")
	inp, err := os.ReadFile(filepath.Join(dir, base+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, base+".out"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	lines := strings.Split(string(out), "\n")
	if len(texts) != len(lines) {
		t.Fatalf("%s: %d inputs but %d output lines", base, len(texts), len(lines))
	}
	vs := make([]Vector, len(texts))
	for k := range texts {
		vs[k].Text = texts[k]
		for _, f := range strings.Fields(lines[k]) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", base, k+1, err)
			}
			vs[k].IDs = append(vs[k].IDs, id)
		}
	}
	return vs
}

// Texts returns up to max text fields of the JSON Lines file
// ../shared/data/<rel> (skipping the test when absent): the "text" field,
// or every string field of a row joined by newlines when it has none.
func Texts(t testing.TB, rel string, max int) []string {
	t.Helper()
	path := testutil.SharedDir(t, "data", rel)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() && len(texts) < max {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if s, ok := row["text"].(string); ok {
			texts = append(texts, s)
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(row)) {
			if s, ok := row[k].(string); ok {
				parts = append(parts, s)
			}
		}
		texts = append(texts, strings.Join(parts, "\n"))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return texts
}

// Corpus names real text files under ../shared/data that the round-trip and
// speed tests use: Chinese statutes, English contracts, medical text,
// encyclopedic text and a tiny story sample.
var Corpus = []string{
	"raw_text/cn_laws/train.jsonl",
	"raw_text/cuad_contract_clauses_en/train.jsonl",
	"raw_text/medquad_mplus_answers_en/train.jsonl",
	"raw_text/wiki_demo_en/train.jsonl",
	"raw_text/tinystories_sample/train.jsonl",
	"instruction/self_instruct/seed_tasks.jsonl",
	"instruction/alpaca_gpt4_zh_demo/train.jsonl",
}
