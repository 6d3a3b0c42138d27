package pretok

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loftml/loft/tokenizer/internal/refdata"
)

func pieces(s Splitter, text string) []string {
	var out []string
	s.Split(text, func(p string) { out = append(out, p) })
	return out
}

// Tricky strings beyond the test vectors: contractions in all cases,
// whitespace runs before letters, digits and punctuation, CR/LF mixes,
// Unicode spaces and invalid UTF-8.
var tricky = []string{
	"", " ", "a", "'", "'s", "'S", "'Ll", "'re'VE'm", "don't I'D", "x'", "''s",
	"   Hello", "\t\tword", " \n\n x", "a\r\n\r\nb", "a \r\n \tb", "  \n", "\n  ",
	"12345678", " 123 4", "x1y22z333", "٣٤٥ ½¾", "A  B   C", "\u3000中文\u00a0x\u2028y",
	"!!!\n\n", " !?\r\n", "(normal)", "😶\u200d🌫️", "\xff\xfeabc", "a\xc3", " \xe2\x82",
	"ǅungla", "I've 'M", " 'll", "\u0085x", "\v\fx", "a\u200bb", "tab\t\tend\t",
}

func TestHandEqualsRegexp2(t *testing.T) {
	var texts []string
	texts = append(texts, tricky...)
	for _, v := range refdata.Vectors(t, "qwen3-tokenizer", "llamacpp-qwen2") {
		texts = append(texts, v.Text)
	}
	for _, f := range refdata.Corpus {
		for _, s := range refdata.Texts(t, f, 20) {
			if len(s) > 20000 {
				s = s[:20000]
			}
			texts = append(texts, s)
		}
	}
	for _, pat := range []string{GPT2Pattern, Llama3Pattern, Qwen2Pattern} {
		hand := ForPattern(pat)
		re, err := NewRegex(pat, Isolated)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			got, want := pieces(hand, text), pieces(re, text)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("pattern %.20q text %.60q:\nhand   %q\nregexp2 %q", pat, text, got, want)
			}
		}
	}
}

// Hand-checked splits, so that the regex engine itself is not the only
// reference.
func TestHandKnown(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		text string
		want []string
	}{
		{GPT2, "Hello, y'all!  How 123", []string{"Hello", ",", " y", "'", "all", "!", " ", " How", " 123"}},
		{GPT2, "I'M  \n\nok", []string{"I", "'", "M", "  \n", "\n", "ok"}},
		{Llama3, "I'M 12345 (x)\n\n  y", []string{"I", "'M", " ", "123", "45", " (", "x", ")\n\n", " ", " y"}},
		{Qwen2, "ab 123\t\n cd", []string{"ab", " ", "1", "2", "3", "\t\n", " cd"}},
	} {
		if got := pieces(Hand{c.kind}, c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%d %q: got %q, want %q", c.kind, c.text, got, c.want)
		}
	}
}

func FuzzHand(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	res := make([]*Regex, 3)
	for k, pat := range []string{GPT2Pattern, Llama3Pattern, Qwen2Pattern} {
		res[k], _ = NewRegex(pat, Isolated)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k := range res {
			got := pieces(Hand{Kind(k)}, s)
			if strings.Join(got, "") != s {
				t.Fatalf("pieces do not cover the text: %q", got)
			}
			if want := pieces(res[k], s); !reflect.DeepEqual(got, want) {
				t.Fatalf("kind %d %q: hand %q, regexp2 %q", k, s, got, want)
			}
		}
	})
}

// Hugging Face's own examples of the Split behaviors ("the-final--countdown"
// split on "-").
func TestBehaviors(t *testing.T) {
	for b, want := range map[Behavior][]string{
		Isolated:           {"the", "-", "final", "-", "-", "countdown"},
		Removed:            {"the", "final", "countdown"},
		MergedWithPrevious: {"the-", "final-", "-", "countdown"},
		MergedWithNext:     {"the", "-final", "-", "-countdown"},
		Contiguous:         {"the", "-", "final", "--", "countdown"},
		MatchesOnly:        {"-", "-", "-"},
	} {
		re, err := NewRegex("-", b)
		if err != nil {
			t.Fatal(err)
		}
		if got := pieces(re, "the-final--countdown"); !reflect.DeepEqual(got, want) {
			t.Errorf("behavior %d: got %q, want %q", b, got, want)
		}
	}
}
