package generate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// gen runs Generate with the fake tokenizer and EOS, collecting streamed
// text per row.
func gen(t *testing.T, m *fakeLM, reqs ...Request) (*Output, []string) {
	t.Helper()
	streamed := make([]string, len(reqs))
	out, err := Generate(context.Background(), m, reqs, Options{
		EOS: []int{tEOS}, NewDecoder: fakeDecoder,
		Stream: func(row int, s string) error {
			if s == "" {
				t.Errorf("row %d: empty chunk streamed", row)
			}
			streamed[row] += s
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out.Rows {
		if streamed[i] != r.Text {
			t.Errorf("row %d: streamed %q, final text %q", i, streamed[i], r.Text)
		}
	}
	return out, streamed
}

func TestGreedyAndMaxTokens(t *testing.T) {
	m := newFake(64, map[int]int{tBOS: tA, tA: tB, tB: tC, tC: tA})
	out, _ := gen(t, m, Request{Prompt: []int{tBOS}, MaxNewTokens: 7})
	r := out.Rows[0]
	if want := []int{tA, tB, tC, tA, tB, tC, tA}; !slices.Equal(r.Tokens, want) {
		t.Errorf("tokens %v, want %v", r.Tokens, want)
	}
	if r.Text != "abcabca" || r.Reason != StopMaxTokens {
		t.Errorf("text %q (%v), want \"abcabca\" (max new tokens)", r.Text, r.Reason)
	}
	// One prefill and 6 decode steps: the 7th token is never fed back.
	if m.forwards != 7 || out.Stats.PromptTokens != 1 || out.Stats.DecodeTokens != 6 || out.Stats.Generated != 7 {
		t.Errorf("forwards %d, stats %+v; want 7 forwards, 1 prompt token, 6 decoded, 7 generated", m.forwards, out.Stats)
	}
}

func TestEOS(t *testing.T) {
	m := newFake(64, map[int]int{tA: tB, tB: tEOS})
	out, _ := gen(t, m, Request{Prompt: []int{tBOS, tC}, MaxNewTokens: 50})
	r := out.Rows[0]
	if !slices.Equal(r.Tokens, []int{tA, tB}) || r.Text != "ab" || r.Reason != StopEOS {
		t.Errorf("got %v %q (%v), want [a b] \"ab\" (end of sequence)", r.Tokens, r.Text, r.Reason)
	}
}

func TestStopStrings(t *testing.T) {
	// The chain spells "aSTOP!abc" and then a... forever.
	m := newFake(64, map[int]int{tBOS: tA, tA: tSTO, tSTO: tP, tP: tBang, tBang: tB, tB: tC, tC: tX})
	for _, tc := range []struct {
		stop   []string
		text   string
		reason StopReason
		tokens int
	}{
		{[]string{"OP!"}, "aST", StopString, 4},                    // across three tokens
		{[]string{"TOP"}, "aS", StopString, 3},                     // inside a token, then the next
		{[]string{"STO"}, "a", StopString, 2},                      // one whole token
		{[]string{"!ab", "P!"}, "aSTO", StopString, 4},             // the earliest match wins
		{[]string{"OPX", "zz"}, "aSTOP!bcxaSTO", StopMaxTokens, 9}, // partial matches are released, "O" at the end too
		{[]string{"a"}, "", StopString, 1},
	} {
		out, _ := gen(t, m, Request{Prompt: []int{tBOS}, MaxNewTokens: 9, Stop: tc.stop})
		r := out.Rows[0]
		if r.Text != tc.text || r.Reason != tc.reason || len(r.Tokens) != tc.tokens {
			t.Errorf("stop %q: text %q (%v, %d tokens), want %q (%v, %d tokens)", tc.stop, r.Text, r.Reason, len(r.Tokens), tc.text, tc.reason, tc.tokens)
		}
		if tc.reason == StopString && !slices.Contains(tc.stop, r.Stop) {
			t.Errorf("stop %q: Stop is %q", tc.stop, r.Stop)
		}
	}
}

// TestStopFirstCompleted: in the one token "abcd", "bc" completes before
// "abcd" does, so it wins, as if the text had come a byte at a time; of
// stop strings completing together, the longest wins.
func TestStopFirstCompleted(t *testing.T) {
	m := newFake(64, map[int]int{tBOS: tX, tX: tLong})
	for _, tc := range []struct {
		stops      []string
		text, stop string
	}{
		{[]string{"abcd", "bc"}, "xa", "bc"},
		{[]string{"bc", "abcd"}, "xa", "bc"},
		{[]string{"bcd", "c", "abc"}, "x", "abc"},
	} {
		out, _ := gen(t, m, Request{Prompt: []int{tBOS}, MaxNewTokens: 5, Stop: tc.stops})
		if r := out.Rows[0]; r.Text != tc.text || r.Reason != StopString || r.Stop != tc.stop {
			t.Errorf("stops %q: text %q (%v, %q), want %q (stop string %q)", tc.stops, r.Text, r.Reason, r.Stop, tc.text, tc.stop)
		}
	}
}

// TestStreamHoldsBack checks, chunk by chunk, that text that could start a
// stop string waits, and that no chunk carries any of the stop string.
func TestStreamHoldsBack(t *testing.T) {
	m := newFake(64, map[int]int{tBOS: tA, tA: tSTO, tSTO: tP, tP: tBang, tBang: tB})
	var chunks []string
	_, err := Generate(context.Background(), m, []Request{{Prompt: []int{tBOS}, MaxNewTokens: 9, Stop: []string{"OP!"}}},
		Options{NewDecoder: fakeDecoder, Stream: func(_ int, s string) error { chunks = append(chunks, s); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	// "a" is safe at once; "STO" ends in "O", which may begin "OP!"; "P"
	// leaves "OP" pending; "!" completes the stop string.
	if want := []string{"a", "ST"}; !slices.Equal(chunks, want) {
		t.Errorf("chunks %q, want %q", chunks, want)
	}
}

func TestUTF8NotSplit(t *testing.T) {
	// "é" arrives as two tokens of one byte each.
	m := newFake(64, map[int]int{tBOS: tX, tX: tE1, tE1: tE2, tE2: tSp, tSp: tX})
	var chunks []string
	out, err := Generate(context.Background(), m, []Request{{Prompt: []int{tBOS}, MaxNewTokens: 8}},
		Options{NewDecoder: fakeDecoder, Stream: func(_ int, s string) error { chunks = append(chunks, s); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if !utf8.ValidString(c) {
			t.Errorf("chunk %q is not valid UTF-8 (all: %q)", c, chunks)
		}
	}
	if want := "xé xé "; out.Rows[0].Text != want {
		t.Errorf("text %q, want %q", out.Rows[0].Text, want)
	}
	// Flushing an unfinished character at the end gives its bytes.
	out, err = Generate(context.Background(), m, []Request{{Prompt: []int{tBOS}, MaxNewTokens: 2}}, Options{NewDecoder: fakeDecoder})
	if err != nil || out.Rows[0].Text != "x\xc3" {
		t.Errorf("text %q, %v; want \"x\\xc3\"", out.Rows[0].Text, err)
	}
}

func TestContextLimit(t *testing.T) {
	m := newFake(8, nil)
	long := make([]int, 9)
	_, err := Generate(context.Background(), m, []Request{{Prompt: long, MaxNewTokens: 1}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "9 tokens") || !strings.Contains(err.Error(), "context length of 8") {
		t.Errorf("prompt of 9 in a context of 8: error %v", err)
	}
	if m.forwards != 0 {
		t.Errorf("%d forward calls before the prompt-length error", m.forwards)
	}
	// 5 prompt tokens fill positions 0-4; decode fills 5-7; the token
	// sampled at position 7 is the last: 4 tokens.
	out, _ := gen(t, m, Request{Prompt: make([]int, 5), MaxNewTokens: 100})
	if r := out.Rows[0]; r.Reason != StopContext || len(r.Tokens) != 4 {
		t.Errorf("got %d tokens (%v), want 4 (context limit)", len(r.Tokens), r.Reason)
	}
	// A budget near MaxInt is only bounded by the context.
	out, _ = gen(t, m, Request{Prompt: make([]int, 5), MaxNewTokens: math.MaxInt})
	if r := out.Rows[0]; r.Reason != StopContext || len(r.Tokens) != 4 {
		t.Errorf("budget MaxInt: got %d tokens (%v), want 4 (context limit)", len(r.Tokens), r.Reason)
	}
	// A prompt that fills the context still gives one token.
	out, _ = gen(t, m, Request{Prompt: make([]int, 8), MaxNewTokens: 100})
	if r := out.Rows[0]; r.Reason != StopContext || len(r.Tokens) != 1 {
		t.Errorf("got %d tokens (%v), want 1 (context limit)", len(r.Tokens), r.Reason)
	}
}

func TestBadRequests(t *testing.T) {
	m := newFake(8, nil)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{MaxNewTokens: 1}, "empty prompt"},
		{Request{Prompt: []int{fakeV}, MaxNewTokens: 1}, "out of range"},
		{Request{Prompt: []int{-1}, MaxNewTokens: 1}, "out of range"},
		{Request{Prompt: []int{0}}, "at least 1"},
		{Request{Prompt: []int{0}, MaxNewTokens: 1, Stop: []string{""}}, "empty stop"},
		{Request{Prompt: []int{0}, MaxNewTokens: 1, Sampling: Sampling{TopP: 2}}, "top-p"},
	} {
		_, err := Generate(context.Background(), m, []Request{tc.req}, Options{NewDecoder: fakeDecoder})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one with %q", tc.req, err, tc.want)
		}
	}
	if _, err := Generate(context.Background(), m, nil, Options{}); err == nil {
		t.Error("no requests: no error")
	}
	if _, err := Generate(context.Background(), m, []Request{{Prompt: []int{0}, MaxNewTokens: 1, Stop: []string{"a"}}}, Options{}); err == nil {
		t.Error("stop strings without a decoder: no error")
	}
	if m.forwards != 0 {
		t.Errorf("%d forward calls for bad requests", m.forwards)
	}
}

// TestBatchEqualsSingles runs prompts of different lengths, settings and
// budgets together and each alone: every row must come out the same. The
// table sends some rows to EOS early, so rows leave the batch at different
// steps and the cache is compacted under the others.
func TestBatchEqualsSingles(t *testing.T) {
	table := map[int]int{tBOS: tA, tA: tB, tB: tC, tC: tX, tX: tY, tY: tZ, tZ: tEOS, tW: tV, tV: tW}
	reqs := []Request{
		{Prompt: []int{tBOS}, MaxNewTokens: 12},                                                      // greedy to EOS
		{Prompt: []int{tBOS, tW, tV}, MaxNewTokens: 20, Sampling: Sampling{Temperature: 1, Seed: 1}}, // sampled
		{Prompt: []int{tBOS, tC, tX, tW, tV}, MaxNewTokens: 5},                                       // budget
		{Prompt: []int{tBOS, tW, tV}, MaxNewTokens: 30, Sampling: Sampling{Temperature: 2, TopK: 8, TopP: 0.9, Seed: 2}},
		{Prompt: []int{tBOS, tB}, MaxNewTokens: 30, Stop: []string{"z"}, Sampling: Sampling{Temperature: 0.7, MinP: 0.05, RepetitionPenalty: 1.3, Seed: 3}},
	}
	check := func(t *testing.T, reqs []Request) {
		m := newFake(24, table)
		batch, _ := gen(t, m, reqs...)
		if m.rows[len(m.rows)-1] >= len(reqs) && len(reqs) > 1 {
			t.Errorf("the batch never shrank: rows per call %v", m.rows)
		}
		for i, req := range reqs {
			single, _ := gen(t, newFake(24, table), req)
			a, b := batch.Rows[i], single.Rows[0]
			if !slices.Equal(a.Tokens, b.Tokens) || a.Text != b.Text || a.Reason != b.Reason {
				t.Errorf("row %d: batched %v %q (%v), alone %v %q (%v)", i, a.Tokens, a.Text, a.Reason, b.Tokens, b.Text, b.Reason)
			}
		}
	}
	t.Run("different lengths", func(t *testing.T) { check(t, reqs) })
	// Prompts of one length take the batched prefill.
	same := slices.Clone(reqs)
	for i := range same {
		same[i].Prompt = []int{tBOS, tW, tV}
	}
	t.Run("one length", func(t *testing.T) { check(t, same) })
	// The sampled rows really depend on their seeds.
	m := newFake(24, table)
	a, _ := gen(t, m, reqs[1])
	reqs[1].Sampling.Seed = 99
	b, _ := gen(t, m, reqs[1])
	if slices.Equal(a.Rows[0].Tokens, b.Rows[0].Tokens) {
		t.Error("seeds 1 and 99 gave the same sampled tokens")
	}
}

func TestStreamErrorAndCancel(t *testing.T) {
	m := newFake(64, nil)
	boom := errors.New("boom")
	_, err := Generate(context.Background(), m, []Request{{Prompt: []int{0}, MaxNewTokens: 10}},
		Options{NewDecoder: fakeDecoder, Stream: func(int, string) error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("stream error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = Generate(ctx, m, []Request{{Prompt: []int{0}, MaxNewTokens: 50}},
		Options{NewDecoder: fakeDecoder, Stream: func(int, string) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		}})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("cancelled after 3 chunks: got %v after %d", err, n)
	}
}
