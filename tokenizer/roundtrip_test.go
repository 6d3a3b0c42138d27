package tokenizer

import (
	"encoding/binary"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/tokenizer/internal/refdata"
	"github.com/loftml/loft/tokenizer/spm"
)

// realTexts returns up to n texts from each corpus file, each at most 8 KB
// (cut at a character boundary) to keep the tests fast.
func realTexts(t testing.TB, n int) []string {
	var out []string
	for _, f := range refdata.Corpus {
		for _, s := range refdata.Texts(t, f, n) {
			if len(s) > 8192 {
				k := 8192
				for k > 0 && !utf8.RuneStart(s[k]) {
					k--
				}
				s = s[:k]
			}
			out = append(out, s)
		}
	}
	return out
}

// TestRoundTrip checks Decode(Encode(x)) == x on real text (Chinese
// statutes, English contracts, medical and encyclopedic text, instructions
// with code) for the byte-level BPE and SentencePiece tokenizers, and that
// streaming decoding gives the same text in valid UTF-8 pieces. (Text with
// SentencePiece control tokens is not plain text: as in Hugging Face, the
// text after "<s>" gets its own "▁" prefix.)
func TestRoundTrip(t *testing.T) {
	texts := realTexts(t, 15)
	texts = append(texts, "  leading spaces", "trailing  ", "\n\nnewlines\r\n", "tabs\t\tx", "<|im_start|>user\nhi<|im_end|>",
		"emoji 😶\u200d🌫️ and ½ ٣", "")
	for _, c := range []struct {
		name string
		rel  []string
	}{
		{"qwen3", []string{"qwen3-tokenizer"}},
		{"gpt2", []string{"gpt2-bpe"}},
		{"llama2-spm", []string{"llama2-tokenizer"}},
		{"stories260K-hf", []string{"stories260K", "hf"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := loadShared(t, c.rel...)
			for _, x := range texts {
				ids := p.Encode(x, false)
				if got := p.Decode(ids, false); got != x {
					t.Fatalf("round trip of %.60q gave %.60q", x, got)
				}
				sd := p.NewStreamDecoder(false)
				var sb strings.Builder
				for _, id := range ids {
					piece := sd.Add(id)
					if !utf8.ValidString(piece) {
						t.Fatalf("stream decoder emitted invalid UTF-8 %q", piece)
					}
					sb.WriteString(piece)
				}
				sb.WriteString(sd.Flush())
				if sb.String() != x {
					t.Fatalf("stream decode of %.60q gave %.60q", x, sb.String())
				}
			}
		})
	}
}

// readLlama2cTokenizer reads llama2.c's tokenizer.bin: max_token_length
// (int32), then per token a float32 score, an int32 length and the bytes.
func readLlama2cTokenizer(t testing.TB, path string, n int) ([]string, []float32) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 4
	var toks []string
	var scores []float32
	for range n {
		scores = append(scores, math.Float32frombits(binary.LittleEndian.Uint32(data[off:])))
		l := int(binary.LittleEndian.Uint32(data[off+4:]))
		toks = append(toks, string(data[off+8:off+8+l]))
		off += 8 + l
	}
	return toks, scores
}

// TestStories260KSPMvsHF compares stories260K's tokenizer.json (BPE merges
// derived from the scores, byte fallback) with SentencePiece BPE over the
// same 512 pieces and scores (tok512.bin, as llama2.c and llama.cpp's "llama"
// vocabulary run it) on real text.
func TestStories260KSPMvsHF(t *testing.T) {
	hf := loadShared(t, "stories260K", "hf")
	toks, scores := readLlama2cTokenizer(t, testutil.SharedDir(t, "models", "stories260K", "tok512.bin"), 512)
	types := make([]int32, len(toks))
	for id, s := range toks {
		switch {
		case id == 0:
			types[id] = spm.Unknown
		case id <= 2:
			types[id] = spm.Control
		case len(s) == 6 && strings.HasPrefix(s, "<0x"):
			types[id] = spm.Byte
		default:
			types[id] = spm.Normal
		}
	}
	// llama2.c writes "▁" as a space; SentencePiece pieces spell it "▁".
	for id := range toks {
		if types[id] == spm.Normal {
			toks[id] = strings.ReplaceAll(toks[id], " ", "▁")
		}
	}
	sp, err := FromGGUF(GGUFVocab{Model: "llama", Tokens: toks, Scores: scores, TokenTypes: types,
		BOS: 1, EOS: 2, UNK: 0, PAD: NoToken, SEP: NoToken, CLS: NoToken})
	if err != nil {
		t.Fatal(err)
	}
	n, ntok := 0, 0
	for _, x := range realTexts(t, 15) {
		a, b := hf.Encode(x, true), sp.Encode(x, true)
		if !slices.Equal(a, b) {
			t.Fatalf("text %.60q:\n hf  %v\n spm %v", x, a[:min(len(a), 40)], b[:min(len(b), 40)])
		}
		n++
		ntok += len(a)
	}
	t.Logf("%d texts, %d tokens equal", n, ntok)
}
