package data

import (
	"path/filepath"
	"testing"
)

// TestExampleDataset loads the fox example of the README with the
// stories260K tokenizer: every line parses, nothing is truncated at
// --seq-len 256, and it batches.
func TestExampleDataset(t *testing.T) {
	cfg := storiesConfig(t)
	cfg.SeqLen = 256
	dir := filepath.Join("..", "examples", "fox")
	for _, tc := range []struct {
		file     string
		format   Format
		examples int
	}{
		{"stories_train.jsonl", FormatText, 300},
		{"stories_valid.jsonl", FormatText, 30},
		{"qa_train.jsonl", FormatCompletion, 84},
		{"qa_valid.jsonl", FormatCompletion, 9},
	} {
		ds, err := Load(cfg, filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if ds.Files[0].Format != tc.format || len(ds.Examples) != tc.examples || ds.Truncated != 0 {
			t.Errorf("%s: format %q, %d examples, %d truncated; want %q, %d, 0", tc.file, ds.Files[0].Format, len(ds.Examples), ds.Truncated, tc.format, tc.examples)
		}
		longest := 0
		for _, ex := range ds.Examples {
			longest = max(longest, len(ex.IDs))
		}
		tokens, counted := ds.Tokens()
		t.Logf("%s: %d examples, %d tokens (%d counted), longest %d", tc.file, len(ds.Examples), tokens, counted, longest)
		b, err := NewBatcher(ds.Examples, BatchOptions{BatchSize: 4, SeqLen: cfg.SeqLen, Shuffle: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range b.Len() {
			n += b.Batch(0, k).Tokens
		}
		// Every counted label but a first token is a target once.
		if n != counted {
			t.Errorf("%s: batches count %d targets, the examples %d labels", tc.file, n, counted)
		}
	}
}
