package spm

import (
	"os"
	"slices"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// Llama 2's tokenizer.model, field by field (values as sentencepiece's
// Python API reports them for this file).
func TestParseLlama2(t *testing.T) {
	data, err := os.ReadFile(testutil.SharedDir(t, "models", "llama2-tokenizer", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProto(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pieces) != 32000 || p.ModelType != TypeBPE || !p.ByteFallback || p.UnkID != 0 || p.BOSID != 1 || p.EOSID != 2 || p.PadID != -1 {
		t.Fatalf("pieces %d, type %d, byte fallback %v, unk/bos/eos/pad %d/%d/%d/%d",
			len(p.Pieces), p.ModelType, p.ByteFallback, p.UnkID, p.BOSID, p.EOSID, p.PadID)
	}
	if p.NormalizerName != "identity" || !p.AddDummyPrefix || p.RemoveExtraSpaces {
		t.Fatalf("normalizer %q, add_dummy_prefix %v, remove_extra_whitespaces %v", p.NormalizerName, p.AddDummyPrefix, p.RemoveExtraSpaces)
	}
	for id, want := range map[int]struct {
		piece string
		typ   int32
	}{0: {"<unk>", Unknown}, 1: {"<s>", Control}, 2: {"</s>", Control}, 3: {"<0x00>", Byte}, 258: {"<0xFF>", Byte}, 259: {"▁▁", Normal}, 15043: {"▁Hello", Normal}} {
		if p.Pieces[id] != want.piece || p.Types[id] != want.typ {
			t.Errorf("piece %d: %q type %d, want %q type %d", id, p.Pieces[id], p.Types[id], want.piece, want.typ)
		}
	}
	// Scores fall with the id in a BPE model: earlier pieces merge first.
	if !(p.Scores[260] > p.Scores[1000] && p.Scores[1000] > p.Scores[31999]) {
		t.Errorf("scores not decreasing: %v %v %v", p.Scores[260], p.Scores[1000], p.Scores[31999])
	}
}

// Hand-computed merges: scores decide, leftmost first on ties; characters
// missing from the pieces fall back to bytes.
func TestEncodeByScore(t *testing.T) {
	pieces := []string{"<unk>", "a", "b", "c", "ab", "bc", "abc"}
	scores := []float32{0, -1, -1, -1, -5, -3, -4}
	types := []int32{Unknown, Normal, Normal, Normal, Normal, Normal, Normal}
	for b := range 256 {
		pieces = append(pieces, "<0x"+string("0123456789ABCDEF"[b>>4])+string("0123456789ABCDEF"[b&15])+">")
		scores = append(scores, 0)
		types = append(types, Byte)
	}
	m, err := NewModel(pieces, scores, types, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	byteID := func(b byte) int { return 7 + int(b) }
	for text, want := range map[string][]int{
		"abc":  {6},              // bc (-3) before ab (-5), then a+bc is the piece abc
		"abcb": {6, 2},           // bc first; then abc, and b is left
		"ab":   {4},              // only ab
		"bcbc": {5, 5},           // two bc
		"aab":  {1, 4},           // ab
		"xa":   {byteID('x'), 1}, // x is no piece
		"é":    {byteID(0xC3), byteID(0xA9)},
		"\xff": {byteID(0xFF)},
	} {
		if got := m.Encode(nil, text); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
	m, err = NewModel(pieces[:7], scores[:7], types[:7], 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Encode(nil, "xa"); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("without byte fallback: %v, want [0 1]", got)
	}
	if _, err := NewModel(pieces[:7], scores[:7], types[:7], 0, true); err == nil {
		t.Error("byte fallback without byte pieces: no error")
	}
}

// Hand-computed Viterbi: the segmentation with the highest total score.
func TestUnigram(t *testing.T) {
	pieces := []string{"<unk>", "a", "b", "ab", "abc", "c", "bc"}
	scores := []float32{0, -1, -1, -3, -5, -2, -1.5}
	u, err := NewUnigram(pieces, scores, nil, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int{
		"ab":   {1, 2}, // a+b -2 beats ab -3
		"abc":  {1, 6}, // a+bc -2.5 beats abc -5, ab+c -5, a+b+c -4
		"c":    {5},
		"xxa":  {0, 1}, // the unknown run is fused into one <unk>
		"axxb": {1, 0, 2},
	} {
		if got := u.Encode(nil, text); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
}

// With byte fallback, a fused run of unknown characters is spelled in
// <0xXX> pieces, as Hugging Face's Unigram does.
func TestUnigramByteFallback(t *testing.T) {
	pieces := []string{"<unk>", "a"}
	scores := []float32{0, -1}
	for b := range 256 {
		pieces = append(pieces, "<0x"+string("0123456789ABCDEF"[b>>4])+string("0123456789ABCDEF"[b&15])+">")
		scores = append(scores, 0)
	}
	u, err := NewUnigram(pieces, scores, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Encode(nil, "xéa"), []int{2 + 'x', 2 + 0xC3, 2 + 0xA9, 1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A user-defined piece is cut out whole before merging and never merged
// further (bpe_model.cc's frozen symbols).
func TestBPEUserDefined(t *testing.T) {
	pieces := []string{"<unk>", "▁", "a", "b", "▁a", "ab", "▁ab"}
	scores := []float32{0, -10, -11, -12, -1, 0, -3}
	types := []int32{Unknown, Normal, Normal, Normal, Normal, Normal, Normal}
	m, err := NewModel(pieces, scores, types, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Encode(nil, "▁ab"); !slices.Equal(got, []int{6}) {
		t.Errorf("normal: %v, want [6]", got)
	}
	types[5] = UserDefined
	m, err = NewModel(pieces, scores, types, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Encode(nil, "▁ab"); !slices.Equal(got, []int{1, 5}) {
		t.Errorf("user-defined ab: %v, want [1 5]", got)
	}
}

// Without rules: extra spaces go, one dummy "▁" comes first, spaces are
// escaped (normalizer.cc).
func TestNormalizerSpaces(t *testing.T) {
	n, err := NewNormalizer(nil, true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"  a  b  ": "▁a▁b", "a": "▁a", "   ": "", "": "", "a\xffb": "▁a\uFFFDb"} {
		if got := n.Normalize(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	n, _ = NewNormalizer(nil, false, false, false)
	if got := n.Normalize("  a  b "); got != "  a  b " {
		t.Errorf("no options: %q", got)
	}
}

// FuzzNormalizer: any charsmap bytes and text normalize without panic.
func FuzzNormalizer(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 0}, "abc")
	f.Add([]byte{4, 0, 0, 0, 0, 4, 0, 0}, " a  b ")
	f.Fuzz(func(t *testing.T, charsmap []byte, s string) {
		n, err := NewNormalizer(charsmap, true, true, true)
		if err != nil {
			return
		}
		n.Normalize(s)
	})
}

// ByteToken accepts exactly "<0x" + two hex digits + ">" (fuzzing found
// that fmt.Sscanf took "<0x-1>" for byte -1).
func TestByteToken(t *testing.T) {
	for p, want := range map[string]int{"<0x00>": 0, "<0x0A>": 10, "<0xff>": 255, "<0xFF>": 255, "<0x-1>": -1, "<0x1>": -1, "<0xGG>": -1, "0x41": -1, "<0x41 ": -1} {
		b, ok := ByteToken(p)
		if got := map[bool]int{true: int(b), false: -1}[ok]; got != want {
			t.Errorf("%q: got %d, want %d", p, got, want)
		}
	}
}
