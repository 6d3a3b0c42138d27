package model

import (
	"errors"
	"fmt"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/tokenizer"
)

// GGUFTokenizer builds the tokenizer a GGUF file's tokenizer.ggml.*
// metadata describes.
func GGUFTokenizer(f *gguf.File) (*tokenizer.Pipeline, error) {
	v, err := ggufVocab(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	return tok, nil
}

// ggufVocab reads the tokenizer.ggml.* keys (GGUF spec names) into plain
// values; absent optional keys keep their "absent" value (tokenizer.FromGGUF
// gives absent special ids llama.cpp's defaults).
func ggufVocab(f *gguf.File) (tokenizer.GGUFVocab, error) {
	v := tokenizer.GGUFVocab{
		BOS: tokenizer.NoToken, EOS: tokenizer.NoToken, UNK: tokenizer.NoToken,
		PAD: tokenizer.NoToken, SEP: tokenizer.NoToken, CLS: tokenizer.NoToken,
	}
	missing := func(err error) bool { return errors.Is(err, gguf.ErrMissingKey) }
	var err error
	if v.Model, err = f.String("tokenizer.ggml.model"); err != nil {
		return v, err
	}
	if v.Pre, err = f.String("tokenizer.ggml.pre"); err != nil && !missing(err) {
		return v, err
	}
	if v.Tokens, err = f.StringArray("tokenizer.ggml.tokens"); err != nil {
		return v, err
	}
	if v.Scores, err = f.Float32Array("tokenizer.ggml.scores"); err != nil && !missing(err) {
		return v, err
	}
	if v.TokenTypes, err = f.Int32Array("tokenizer.ggml.token_type"); err != nil && !missing(err) {
		return v, err
	}
	if v.Merges, err = f.StringArray("tokenizer.ggml.merges"); err != nil && !missing(err) {
		return v, err
	}
	for _, id := range []struct {
		dst *int
		key string
	}{
		{&v.BOS, "bos_token_id"}, {&v.EOS, "eos_token_id"}, {&v.UNK, "unknown_token_id"},
		{&v.PAD, "padding_token_id"}, {&v.SEP, "seperator_token_id"}, {&v.CLS, "cls_token_id"},
	} {
		n, err := f.Int("tokenizer.ggml." + id.key)
		if missing(err) {
			continue
		}
		if err != nil {
			return v, err
		}
		if n < 0 || n >= int64(len(v.Tokens)) {
			// llama.cpp writes -1 or out-of-range ids for "none" in some
			// files and then keeps its default, as FromGGUF does for NoToken.
			continue
		}
		*id.dst = int(n)
	}
	for _, fl := range []struct {
		dst **bool
		key string
	}{{&v.AddBOS, "add_bos_token"}, {&v.AddEOS, "add_eos_token"}, {&v.AddSpacePrefix, "add_space_prefix"}} {
		b, err := f.Bool("tokenizer.ggml." + fl.key)
		if missing(err) {
			continue
		}
		if err != nil {
			return v, err
		}
		*fl.dst = &b
	}
	return v, nil
}
