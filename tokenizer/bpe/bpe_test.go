package bpe

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// A tiny byte-level vocabulary: the 256 byte characters plus merges built
// from a fixed random sequence, so that words merge in many orders.
func testModel(t *testing.T) *Model {
	t.Helper()
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(ByteToRune[b])] = b
	}
	rng := rand.New(rand.NewPCG(1, 2))
	letters := []string{}
	for _, c := range "abcde " {
		letters = append(letters, ToByteLevel(string(c)))
	}
	var merges [][2]string
	toks := append([]string(nil), letters...)
	for len(merges) < 60 {
		a, b := toks[rng.IntN(len(toks))], toks[rng.IntN(len(toks))]
		if _, ok := vocab[a+b]; ok {
			continue
		}
		vocab[a+b] = len(vocab)
		merges = append(merges, [2]string{a, b})
		toks = append(toks, a+b)
	}
	m, err := New(vocab, merges, Options{ByteLevel: true, Unk: -1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The tree merge loop must equal the scan merge loop (the reference).
func TestMergeTreeEqualsScan(t *testing.T) {
	m := testModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := 1 + rng.IntN(300)
		w := make([]byte, n)
		for k := range w {
			w[k] = "abcde "[rng.IntN(6)]
		}
		a := m.mergeScan(m.symbols(nil, string(w)))
		b := m.mergeTree(m.symbols(nil, string(w)))
		if !slices.Equal(a, b) {
			t.Fatalf("word %q: scan %v, tree %v", w, a, b)
		}
	}
}

// Hand-computed: with merges (a b) then (b c) then (ab c), "abc" is ab+c ->
// abc, and "bc" alone is bc.
func TestMergeOrder(t *testing.T) {
	vocab := map[string]int{"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}
	m, err := New(vocab, [][2]string{{"a", "b"}, {"b", "c"}, {"ab", "c"}}, Options{Unk: -1})
	if err != nil {
		t.Fatal(err)
	}
	for word, want := range map[string][]int{"abc": {5}, "bc": {4}, "cab": {2, 3}, "abab": {3, 3}, "bcbc": {4, 4}} {
		if got := m.Encode(nil, word); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", word, got, want)
		}
	}
	if _, err := New(vocab, [][2]string{{"a", "x"}}, Options{}); err == nil {
		t.Error("merge with an unknown token: no error")
	}
}

// IgnoreMerges (Llama 3): a word found whole in the vocabulary is one token
// even when the merges would not build it.
func TestIgnoreMerges(t *testing.T) {
	vocab := map[string]int{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}
	merges := [][2]string{{"a", "b"}}
	plain, _ := New(vocab, merges, Options{Unk: -1})
	ignore, _ := New(vocab, merges, Options{Unk: -1, IgnoreMerges: true})
	if got := plain.Encode(nil, "abc"); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("plain: %v", got)
	}
	if got := ignore.Encode(nil, "abc"); !slices.Equal(got, []int{4}) {
		t.Errorf("ignore_merges: %v", got)
	}
}
