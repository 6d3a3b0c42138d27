package model

import (
	"errors"
	"fmt"
	"slices"

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

// ggufNoVocab reports whether tokenizer.ggml.model says the file has no
// vocabulary ("none" or "no_vocab"), which llama.cpp loads as a model
// without one (LLAMA_VOCAB_TYPE_NONE).
func ggufNoVocab(f *gguf.File) bool {
	m, _ := f.String("tokenizer.ggml.model")
	return m == "none" || m == "no_vocab"
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

// ggufEOGTexts are the texts of the tokens llama.cpp ends generation at
// whatever ids a file gives (llama_vocab::impl::load, special_eog_ids).
var ggufEOGTexts = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<|return|>": true, "<|call|>": true,
	"<|flush|>": true, "<|calls|>": true, "<end_of_turn>": true, "<|endoftext|>": true, "</s>": true,
	"<|eom_id|>": true, "<EOT>": true, "_<EOT>": true, "[EOT]": true, "[EOS]": true,
	"<|end_of_text|>": true, "<end_of_utterance>": true, "<eos>": true, "<turn|>": true,
	"<|tool_response>": true, "<｜end▁of▁sentence｜>": true, "[e~[": true,
}

// ggufFIMTexts are, for the fill-in-the-middle pad, repository and
// file-separator tokens, which end generation in llama.cpp too, the texts
// it finds them by when the file has no tokenizer.ggml.<key>_token_id.
var ggufFIMTexts = map[string][]string{
	"fim_pad": {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"},
	"fim_rep": {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
	"fim_sep": {"<|file_sep|>"},
}

// ggufStopIDs returns the ids generation stops at: llama.cpp's
// end-of-generation set for the file. That is eos (the tokenizer's,
// defaults applied), the tokenizer.ggml.eot/eom/fim_pad/fim_rep/fim_sep
// ids (the FIM ones found by text when absent) and every token whose text
// is in ggufEOGTexts, less llama.cpp's two exceptions: "<|end|>" when a
// call token and "<|return|>" or "<|flush|>" are in the set (gpt-oss,
// Solar Open), and "</s>" when "<|tool_response>" is (Gemma 4). eos, eot
// and eom come first, the others in id order.
func ggufStopIDs(f *gguf.File, eos int) []int {
	tokens, err := f.StringArray("tokenizer.ggml.tokens")
	if err != nil {
		return nil
	}
	n := len(tokens)
	eog := map[int]bool{}
	add := func(id int) {
		if id >= 0 && id < n {
			eog[id] = true
		}
	}
	// An id out of range is none: llama.cpp keeps its default then.
	idOf := func(key string) int {
		if v, err := f.Int("tokenizer.ggml." + key + "_token_id"); err == nil && v >= 0 && v < int64(n) {
			return int(v)
		}
		return -1
	}
	eot, eom := idOf("eot"), idOf("eom")
	add(eos)
	add(eot)
	add(eom)
	for _, key := range []string{"fim_pad", "fim_rep", "fim_sep"} {
		id := idOf(key)
		for tid := 0; id < 0 && tid < n; tid++ {
			if slices.Contains(ggufFIMTexts[key], tokens[tid]) {
				id = tid
			}
		}
		add(id)
	}
	for id, s := range tokens {
		if ggufEOGTexts[s] {
			add(id)
		}
	}
	inSet := map[string]int{}
	for id := range eog {
		inSet[tokens[id]] = id
	}
	has := func(s string) bool { _, ok := inSet[s]; return ok }
	if id, ok := inSet["<|end|>"]; ok && (has("<|call|>") || has("<|calls|>")) && (has("<|return|>") || has("<|flush|>")) {
		delete(eog, id)
	}
	if id, ok := inSet["</s>"]; ok && has("<|tool_response>") {
		delete(eog, id)
	}
	// The first id is the one training appends when the tokenizer has no
	// EOS (data.FromBundle): the file's eos, eot or eom, in that order,
	// before the others.
	var ids []int
	for _, id := range []int{eos, eot, eom} {
		if id >= 0 && eog[id] && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for id := range n {
		if eog[id] && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
