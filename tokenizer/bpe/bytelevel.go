package bpe

import (
	"strings"
	"unicode/utf8"
)

// ByteToRune is GPT-2's byte alphabet (bytes_to_unicode in encoder.py):
// printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
// themselves; the other 68 bytes, in increasing order, become U+0100,
// U+0101, ... so that every byte is a visible character.
var ByteToRune, runeToByte = func() (fwd [256]rune, inv map[rune]byte) {
	inv = make(map[rune]byte, 256)
	n := rune(0)
	for b := range 256 {
		if ('!' <= b && b <= '~') || ('¡' <= b && b <= '¬') || ('®' <= b && b <= 'ÿ') {
			fwd[b] = rune(b)
		} else {
			fwd[b] = 256 + n
			n++
		}
		inv[fwd[b]] = byte(b)
	}
	return fwd, inv
}()

// ToByteLevel maps every byte of s (any bytes) to its GPT-2 byte character.
func ToByteLevel(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(ByteToRune[s[i]])
	}
	return sb.String()
}

// AppendFromByteLevel appends the bytes that token's GPT-2 byte characters
// stand for. A character outside the alphabet (say, in an added token such
// as "<|im_start|>" written in another script) is copied as its UTF-8.
func AppendFromByteLevel(dst []byte, token string) []byte {
	for _, r := range token {
		if b, ok := runeToByte[r]; ok {
			dst = append(dst, b)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
