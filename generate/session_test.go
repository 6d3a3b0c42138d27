package generate

import (
	"context"
	"slices"
	"testing"
)

// TestSessionReusesPrefix runs a conversation through a Session and checks
// each turn against a fresh Generate, and that only the new tokens run.
func TestSessionReusesPrefix(t *testing.T) {
	table := map[int]int{tBOS: tA, tA: tB, tB: tC, tC: tX, tX: tY, tY: tZ, tZ: tEOS, tW: tV, tV: tW}
	lm := newFake(200, table)
	sess := NewSession(lm)
	opts := Options{EOS: []int{tEOS}, NewDecoder: fakeDecoder}
	prompt := []int{tBOS, tW}
	var prev []int // what the cache should hold: prompt and fed tokens
	grown := false
	for turn, req := range []Request{
		{MaxNewTokens: 5, Sampling: Sampling{Temperature: 1, Seed: 1}},
		{MaxNewTokens: 3, Stop: []string{"y"}},
		{MaxNewTokens: 40, Sampling: Sampling{Temperature: 0.9, TopK: 5, Seed: 3}},
		{MaxNewTokens: 120}, // outgrows the cache: it is reallocated
	} {
		req.Prompt = slices.Clone(prompt)
		before := sess.cache
		want, err := Generate(context.Background(), newFake(200, table), []Request{req}, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sess.Generate(context.Background(), req, opts)
		if err != nil {
			t.Fatal(err)
		}
		a, b := got.Rows[0], want.Rows[0]
		if !slices.Equal(a.Tokens, b.Tokens) || a.Text != b.Text || a.Reason != b.Reason {
			t.Fatalf("turn %d: session %v %q (%v), fresh %v %q (%v)", turn, a.Tokens, a.Text, a.Reason, b.Tokens, b.Text, b.Reason)
		}
		// The reused prefix is the common prefix with what the cache held,
		// short of the last prompt token.
		common := 0
		for common < len(prev) && common < len(prompt)-1 && prev[common] == prompt[common] {
			common++
		}
		if st := got.Stats; st.CachedTokens != common || st.PromptTokens != len(prompt)-common {
			t.Errorf("turn %d: %d cached + %d run, want %d + %d", turn, st.CachedTokens, st.PromptTokens, common, len(prompt)-common)
		}
		grown = grown || (before != nil && sess.cache != before)
		// The next prompt: this one, the reply, and a new "user" token;
		// every second turn the reply's last token is re-tokenised
		// differently, as a chat template may.
		prompt = append(append(prompt, a.Tokens...), tW, tV)
		if turn%2 == 1 && len(a.Tokens) > 0 {
			prompt[len(prompt)-3] = tSp
		}
		fed := len(want.Rows[0].Tokens)
		if a.Reason != StopEOS {
			fed--
		}
		prev = append(slices.Clone(req.Prompt), a.Tokens[:fed]...)
		if !slices.Equal(sess.ids, prev) {
			t.Fatalf("turn %d: the session holds %v, want %v", turn, sess.ids, prev)
		}
	}
	if !grown {
		t.Error("the cache was never reallocated")
	}
	// A prompt over the context is refused and leaves the session usable.
	if _, err := sess.Generate(context.Background(), Request{Prompt: make([]int, 201), MaxNewTokens: 1}, opts); err == nil {
		t.Error("a prompt of 201 tokens in a context of 200: no error")
	}
	sess.Reset()
	out, err := sess.Generate(context.Background(), Request{Prompt: []int{tBOS}, MaxNewTokens: 3}, opts)
	if err != nil || out.Rows[0].Text != "abc" || out.Stats.CachedTokens != 0 {
		t.Errorf("after Reset: %+v, %v", out, err)
	}
}
