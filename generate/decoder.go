package generate

import (
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer"
)

// NewTextDecoder returns a TextDecoder factory for tok. It uses the
// tokenizer's own stream decoder when it has one (*tokenizer.Pipeline),
// and otherwise decodes the whole id list again at each step and returns
// what grew, holding back an incomplete UTF-8 character at the end. With
// skipSpecial, special tokens (BOS, EOS, <|im_end|>, ...) give no text.
func NewTextDecoder(tok tokenizer.Tokenizer, skipSpecial bool) func() TextDecoder {
	if p, ok := tok.(*tokenizer.Pipeline); ok {
		return func() TextDecoder { return p.NewStreamDecoder(skipSpecial) }
	}
	return func() TextDecoder { return &redecoder{tok: tok, skipSpecial: skipSpecial} }
}

// redecoder is the TextDecoder of a tokenizer without a stream decoder.
type redecoder struct {
	tok         tokenizer.Tokenizer
	skipSpecial bool
	ids         []int
	sent        int // bytes of the decoded text already returned
}

// Add implements TextDecoder.
func (d *redecoder) Add(id int) string {
	d.ids = append(d.ids, id)
	s := d.tok.Decode(d.ids, d.skipSpecial)
	if len(s) <= d.sent {
		return ""
	}
	end := len(s)
	// Hold back a trailing character that is not complete yet.
	for i := len(s) - 1; i >= d.sent && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				end = i
			}
			break
		}
	}
	out := s[d.sent:end]
	d.sent = end
	return out
}

// Flush implements TextDecoder.
func (d *redecoder) Flush() string {
	s := d.tok.Decode(d.ids, d.skipSpecial)
	if len(s) <= d.sent {
		return ""
	}
	out := s[d.sent:]
	d.sent = len(s)
	return out
}
