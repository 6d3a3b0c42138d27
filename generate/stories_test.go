package generate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
)

// TestStoriesGreedy generates from BOS with the real stories260K model
// and compares with llama2.c run.c's greedy text (the file ends with the
// newline run.c prints after the text).
func TestStoriesGreedy(t *testing.T) {
	dir := testutil.SharedDir(t, "models", "stories260K")
	want, err := os.ReadFile(filepath.Join(dir, "expected_greedy_t0_n200.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(filepath.Join(dir, "hf"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	out, err := Generate(context.Background(), b.LM, []Request{{Prompt: []int{b.Gen.BOS}, MaxNewTokens: 200}}, Options{
		EOS: b.Gen.EOS, NewDecoder: NewTextDecoder(b.Tokenizer, true),
		Stream: func(_ int, s string) error { streamed.WriteString(s); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Rows[0]
	if r.Text+"\n" != string(want) || len(r.Tokens) != 200 || r.Reason != StopMaxTokens {
		t.Errorf("%d tokens (%v):\n got %q\nwant %q", len(r.Tokens), r.Reason, r.Text, want)
	}
	if streamed.String() != r.Text {
		t.Errorf("streamed text differs from the result:\n%q\n%q", streamed.String(), r.Text)
	}
}

// TestStoriesBatch runs prompts of different lengths, greedy and sampled,
// through the real model together and alone.
func TestStoriesBatch(t *testing.T) {
	b, err := model.Load(testutil.SharedDir(t, "models", "stories260K", "hf"), model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc := func(s string) []int { return append([]int{b.Gen.BOS}, b.Tokenizer.Encode(s, false)...) }
	reqs := []Request{
		{Prompt: enc("Once upon a time"), MaxNewTokens: 40},
		{Prompt: enc("The little dog ran to the park and saw"), MaxNewTokens: 60, Sampling: Sampling{Temperature: 1, TopP: 0.9, Seed: 1}},
		{Prompt: enc("Lily"), MaxNewTokens: 25, Sampling: Sampling{Temperature: 0.8, TopK: 20, Seed: 2}},
		{Prompt: enc("One day, Tom"), MaxNewTokens: 50, Stop: []string{"."}},
	}
	opts := Options{EOS: b.Gen.EOS, NewDecoder: NewTextDecoder(b.Tokenizer, true)}
	batch, err := Generate(context.Background(), b.LM, reqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, req := range reqs {
		single, err := Generate(context.Background(), b.LM, []Request{req}, opts)
		if err != nil {
			t.Fatal(err)
		}
		x, y := batch.Rows[i], single.Rows[0]
		if !slices.Equal(x.Tokens, y.Tokens) || x.Text != y.Text || x.Reason != y.Reason {
			t.Errorf("prompt %d: batched %q (%v), alone %q (%v)", i, x.Text, x.Reason, y.Text, y.Reason)
		}
	}
}

// TestStopAtByteToken: with a SentencePiece tokenizer whose newline is the
// byte token <0x0A> (Llama 2's, stories260K's), the stop string "\n" stops
// at that token, and the stream shows each character with the token that
// completes it: the decoder once held byte tokens until the run ended, so
// the newline showed one token late and generation ran one token past the
// stop. A fake model replays the ids of a fixed text.
func TestStopAtByteToken(t *testing.T) {
	tok, err := tokenizer.Load(testutil.SharedDir(t, "models", "llama2-tokenizer", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("Hi\nthere 😀 ok", true)
	m := &fakeLM{next: make([]int, tok.VocabSize()), ctx: 64}
	for i := range ids[:len(ids)-1] {
		m.next[ids[i]] = ids[i+1]
	}
	m.next[ids[len(ids)-1]] = 2
	for _, tc := range []struct {
		stop   []string
		tokens int
		text   string
	}{{[]string{"\n"}, 2, "Hi"}, {nil, len(ids) - 1, "Hi\nthere 😀 ok"}} {
		var chunks []string
		out, err := Generate(context.Background(), m, []Request{{Prompt: ids[:1], MaxNewTokens: 20, Stop: tc.stop}},
			Options{EOS: []int{2}, NewDecoder: NewTextDecoder(tok, true), Stream: func(_ int, s string) error { chunks = append(chunks, s); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		r := out.Rows[0]
		if len(r.Tokens) != tc.tokens || r.Text != tc.text {
			t.Errorf("stop %q: %d tokens, text %q; want %d and %q", tc.stop, len(r.Tokens), r.Text, tc.tokens, tc.text)
		}
		if tc.stop == nil && !slices.Contains(chunks, "😀") {
			t.Errorf("the emoji's byte tokens did not stream as one character: %q", chunks)
		}
	}
}
