package tokenizer

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/bpe"
)

// decodeStep maps one token's bytes to its text, i being the token's index
// among the tokens decoded (Hugging Face's decoders see the same index).
type decodeStep func(tok []byte, i int) []byte

// decodeByteLevel maps GPT-2 byte characters back to bytes.
func decodeByteLevel(tok []byte, _ int) []byte {
	return bpe.AppendFromByteLevel(nil, string(tok))
}

// decodeReplace replaces every old with new (Replace with a String pattern).
func decodeReplace(old, new string) decodeStep {
	o, n := []byte(old), []byte(new)
	return func(tok []byte, _ int) []byte {
		if !bytes.Contains(tok, o) {
			return tok
		}
		return bytes.ReplaceAll(tok, o, n)
	}
}

// decodeStrip removes up to start leading and stop trailing copies of c
// from each token (Strip without a Fuse before it).
func decodeStrip(c string, start, stop int) decodeStep {
	return func(tok []byte, _ int) []byte {
		for k := 0; k < start && bytes.HasPrefix(tok, []byte(c)); k++ {
			tok = tok[len(c):]
		}
		for k := 0; k < stop && bytes.HasSuffix(tok, []byte(c)); k++ {
			tok = tok[:len(tok)-len(c)]
		}
		return tok
	}
}

// decodeMetaspace turns the replacement character back into spaces, except
// in the first token when a prefix space was added, where every one of them
// is dropped, leading or not: Hugging Face's Metaspace decode_chain does
// exactly that (["▁▁", "▁Hello"] decodes to " Hello", "▁a▁b" first to "ab").
func decodeMetaspace(repl string, prepended bool) decodeStep {
	r := []byte(repl)
	return func(tok []byte, i int) []byte {
		if i == 0 && prepended {
			return bytes.ReplaceAll(tok, r, nil)
		}
		return bytes.ReplaceAll(tok, r, []byte{' '})
	}
}

// decodeWordPiece joins continuation pieces (prefix "##") to the word before
// and puts a space before every other token but the first; cleanup undoes
// the spaces BERT puts before punctuation and contractions.
func decodeWordPiece(prefix string, cleanup bool) decodeStep {
	return func(tok []byte, i int) []byte {
		if i > 0 { // as Hugging Face: the first token is left as it is
			if bytes.HasPrefix(tok, []byte(prefix)) {
				tok = tok[len(prefix):]
			} else {
				tok = append([]byte{' '}, tok...)
			}
		}
		if cleanup {
			tok = []byte(cleanupSpaces(string(tok)))
		}
		return tok
	}
}

// cleanupSpaces is Hugging Face's clean_up_tokenization.
var cleanupSpaces = strings.NewReplacer(
	" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'",
	" n't", "n't", " 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re",
).Replace

// decodeSuffix is BPEDecoder: the end-of-word suffix becomes a space, except
// on the last token (which it cannot know while streaming; kept as space).
func decodeSuffix(suffix string) decodeStep {
	s := []byte(suffix)
	return func(tok []byte, _ int) []byte {
		return bytes.ReplaceAll(tok, s, []byte{' '})
	}
}

// appendLossy appends b to dst as valid UTF-8, each maximal invalid subpart
// (the longest start of a valid sequence there, or else one byte) as one
// U+FFFD: Rust's String::from_utf8_lossy, with which Hugging Face's
// ByteLevel decoder ends, and the Unicode standard's recommended practice
// (chapter 3, "U+FFFD Substitution of Maximal Subparts"). E4 B8 61 is
// "\uFFFDa", where Go's per-byte decoding gives two U+FFFD.
func appendLossy(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
			b = b[maximalSubpart(b):]
			continue
		}
		dst = append(dst, b[:n]...)
		b = b[n:]
	}
	return dst
}

// maximalSubpart returns the length of the invalid sequence that starts b:
// its longest start that more bytes could make valid, at least one byte.
func maximalSubpart(b []byte) int {
	n := 1
	for k := 2; k <= min(len(b), utf8.UTFMax-1); k++ {
		if utf8.FullRune(b[:k]) {
			break
		}
		n = k
	}
	return n
}

// partialTail returns how many bytes at the end of b start a character that
// more bytes could complete (0 to 3).
func partialTail(b []byte) int {
	for k := max(0, len(b)-utf8.UTFMax+1); k < len(b); k++ {
		if !utf8.FullRune(b[k:]) {
			return len(b) - k
		}
	}
	return 0
}
