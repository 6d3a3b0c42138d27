package wordpiece

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	all := NormalizerOptions{CleanText: true, HandleChineseChars: true, StripAccents: true, Lowercase: true}
	for _, c := range []struct {
		in, want string
		o        NormalizerOptions
	}{
		{"Héllo\tWörld", "hello world", all},
		{"a\x00b\u200bc\ufffdd", "abcd", all}, // NUL, zero-width space (Cf), U+FFFD dropped
		{"中文x", " 中  文 x", all},
		// tokenizers' CJK Extension E range starts at U+2B920, not U+2B820.
		{"a\U0002B820b", "a\U0002B820b", all},
		{"a\U0002B920b", "a \U0002B920 b", all},
		{"Héllo", "héllo", NormalizerOptions{Lowercase: true}},
		{"Cửa", "Cua", NormalizerOptions{StripAccents: true}},
	} {
		if got := Normalize(c.in, c.o); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPreTokenize(t *testing.T) {
	var got []string
	PreTokenize("  Hello,world!! it's  ½ ～", func(w string) { got = append(got, w) })
	want := []string{"Hello", ",", "world", "!", "!", "it", "'", "s", "½", "～"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestModel(t *testing.T) {
	m := &Model{Vocab: map[string]int{"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "una": 4, "##ff": 5}, Unk: 0, Prefix: "##", MaxChars: 10}
	for word, want := range map[string][]int{
		"unaffable":   {4, 5, 3}, // longest first: "una", then "##ff", "##able"
		"unable":      {0},       // "una" is taken greedily, then "##ble" is no piece: no backtracking
		"unff":        {1, 5},
		"unx":         {0}, // a piece that cannot be covered makes the word [UNK]
		"unaffableee": {0}, // longer than MaxChars
	} {
		if got := m.Encode(nil, word); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", word, got, want)
		}
	}
}
