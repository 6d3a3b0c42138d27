package data

import (
	"strings"

	"github.com/loftml/loft/tokenizer"
)

// charTok is a tiny tokenizer for tests: one id per byte (byte+4), with
// <unk>=0, <s>=1, </s>=2 and <|end|>=3 matched as special tokens in text,
// so expected ids can be written by hand.
type charTok struct{}

var charSpecials = []string{"<unk>", "<s>", "</s>", "<|end|>"}

func (charTok) Encode(text string, addSpecial bool) []int {
	var ids []int
	if addSpecial {
		ids = append(ids, 1)
	}
outer:
	for i := 0; i < len(text); {
		for id, s := range charSpecials {
			if strings.HasPrefix(text[i:], s) {
				ids = append(ids, id)
				i += len(s)
				continue outer
			}
		}
		ids = append(ids, int(text[i])+4)
		i++
	}
	return ids
}

func (charTok) Decode(ids []int, skipSpecial bool) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id < 4 && !skipSpecial:
			b.WriteString(charSpecials[id])
		case id >= 4 && id < 260:
			b.WriteByte(byte(id - 4))
		}
	}
	return b.String()
}

func (charTok) VocabSize() int { return 260 }

func (charTok) IsSpecial(id int) bool { return id >= 0 && id < 4 }

func (charTok) Specials() tokenizer.Specials {
	return tokenizer.Specials{BOS: 1, EOS: 2, UNK: 0, PAD: -1}
}

// c returns the charTok ids of s, as int32.
func c(s string) []int32 {
	var out []int32
	for _, id := range (charTok{}).Encode(s, false) {
		out = append(out, int32(id))
	}
	return out
}

// cat concatenates id lists.
func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ign returns n IgnoreIndex labels.
func ign(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = IgnoreIndex
	}
	return out
}

// NewStreamDecoder is not used by the data package.
func (charTok) NewStreamDecoder(bool) *tokenizer.StreamDecoder { return nil }
