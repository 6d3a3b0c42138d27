package tokenizer

import (
	"slices"
	"sync"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/internal/refdata"
)

// loaded memoizes loadShared: a Pipeline is immutable and safe for
// concurrent use, and loading Qwen3 takes a quarter of a second.
var loaded sync.Map // path -> *Pipeline

// loadShared loads a tokenizer from ../shared/models/<rel>.
func loadShared(t testing.TB, rel ...string) *Pipeline {
	t.Helper()
	path := testutil.SharedDir(t, append([]string{"models"}, rel...)...)
	if p, ok := loaded.Load(path); ok {
		return p.(*Pipeline)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Store(path, p)
	return p
}

// checkVectors compares Encode (no special tokens) with every llama.cpp
// test vector.
func checkVectors(t *testing.T, tok Tokenizer, model, base string) {
	t.Helper()
	vs := refdata.Vectors(t, model, base)
	bad := 0
	for k, v := range vs {
		got := tok.Encode(v.Text, false)
		if !slices.Equal(got, v.IDs) && !(len(got) == 0 && len(v.IDs) == 0) {
			bad++
			t.Errorf("%s #%d %.50q:\n got %v\nwant %v", base, k, v.Text, got, v.IDs)
		}
	}
	t.Logf("%s: %d/%d vectors equal", base, len(vs)-bad, len(vs))
}

func TestVectorsQwen3(t *testing.T) {
	checkVectors(t, loadShared(t, "qwen3-tokenizer"), "qwen3-tokenizer", "llamacpp-qwen2")
}

func TestVectorsGPT2(t *testing.T) {
	// vocab.json + merges.txt
	checkVectors(t, loadShared(t, "gpt2-bpe"), "gpt2-bpe", "llamacpp-gpt-2")
}

func TestVectorsLlama2SPM(t *testing.T) {
	checkVectors(t, loadShared(t, "llama2-tokenizer"), "llama2-tokenizer", "llamacpp-llama-spm")
}

func TestVectorsBERT(t *testing.T) {
	checkVectors(t, loadShared(t, "bert-uncased-tokenizer"), "bert-uncased-tokenizer", "llamacpp-bert-bge")
}
