package generate

import "github.com/loftml/loft/tokenizer"

// NewTextDecoder returns a TextDecoder factory for tok: its stream
// decoder, which never splits a UTF-8 character. With skipSpecial, special
// tokens (BOS, EOS, <|im_end|>, ...) give no text.
func NewTextDecoder(tok tokenizer.Tokenizer, skipSpecial bool) func() TextDecoder {
	return func() TextDecoder { return tok.NewStreamDecoder(skipSpecial) }
}
