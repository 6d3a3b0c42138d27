package generate

import "github.com/loftml/loft/tokenizer"

// NewTextDecoder returns a TextDecoder factory for tok: its stream
// decoder, which never splits a UTF-8 character. With skipSpecial, special
// tokens (BOS, EOS, <|im_end|>, ...) give no text.
func NewTextDecoder(tok tokenizer.Tokenizer, skipSpecial bool) func() TextDecoder {
	return func() TextDecoder { return tok.NewStreamDecoder(skipSpecial) }
}

// NewContinuationDecoder is NewTextDecoder for a stream that continues
// prompt: each decoder is primed with it (tokenizer.StreamDecoder.Prime),
// so the text starts as it does after the prompt's own text, with the
// space a SentencePiece word carries, rather than as a text of its own.
func NewContinuationDecoder(tok tokenizer.Tokenizer, skipSpecial bool, prompt []int) func() TextDecoder {
	return func() TextDecoder {
		d := tok.NewStreamDecoder(skipSpecial)
		d.Prime(prompt)
		return d
	}
}
