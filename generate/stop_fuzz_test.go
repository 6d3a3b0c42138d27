package generate

import (
	"strings"
	"testing"
)

// FuzzStopStrings generates sampled text from the fake model with and
// without stop strings and checks the rules: the text ends right before
// the stop string that completes first in the full text (the earliest end;
// of those, the longest), nothing is streamed past it, and without an
// occurrence the text is whole.
func FuzzStopStrings(f *testing.F) {
	f.Add(uint64(1), "OP", "bc")
	f.Add(uint64(2), "abcd", "bc")
	f.Add(uint64(3), "STOP!", "x")
	f.Add(uint64(4), "é", "a a")
	f.Add(uint64(5), "\xc3", "zz")
	f.Fuzz(func(t *testing.T, seed uint64, s1, s2 string) {
		var stops []string
		for _, s := range []string{s1, s2} {
			if s != "" && len(s) < 12 {
				stops = append(stops, s)
			}
		}
		m := newFake(64, map[int]int{tBOS: tA, tA: tSTO, tSTO: tP, tP: tBang, tBang: tB, tB: tC, tC: tE1, tE1: tE2, tE2: tSp})
		req := Request{Prompt: []int{tBOS}, MaxNewTokens: 40, Sampling: Sampling{Temperature: 3, Seed: seed}}
		full, _ := gen(t, m, req)
		req.Stop = stops
		cut, streamed := gen(t, m, req)
		text, r := full.Rows[0].Text, cut.Rows[0]
		at, end := -1, 0
		for _, s := range stops {
			if i := strings.Index(text, s); i >= 0 && (at < 0 || i+len(s) < end || i+len(s) == end && i < at) {
				at, end = i, i+len(s)
			}
		}
		if at < 0 {
			if r.Text != text || r.Reason == StopString {
				t.Fatalf("stops %q absent from %q: got %q (%v)", stops, text, r.Text, r.Reason)
			}
			return
		}
		if r.Text != text[:at] || r.Reason != StopString || streamed[0] != r.Text {
			t.Fatalf("stops %q in %q: got %q (%v, streamed %q), want %q", stops, text, r.Text, r.Reason, streamed[0], text[:at])
		}
	})
}
