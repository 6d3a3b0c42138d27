package tokenizer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loftml/loft/tokenizer/bpe"
	"github.com/loftml/loft/tokenizer/spm"
	"github.com/loftml/loft/tokenizer/wordpiece"
)

// NoToken marks an absent special-token id in GGUFVocab.
const NoToken = -1

// GGUFVocab holds a GGUF file's tokenizer.ggml.* metadata as plain values, so
// that a GGUF reader elsewhere can build a tokenizer from the file alone.
// Ids absent from the file are NoToken; flags absent are nil.
type GGUFVocab struct {
	Model      string    // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece)
	Pre        string    // tokenizer.ggml.pre: the pre-tokenizer of gpt2 models ("gpt-2", "llama-bpe", "qwen2", ...)
	Tokens     []string  // tokenizer.ggml.tokens
	Scores     []float32 // tokenizer.ggml.scores (llama)
	TokenTypes []int32   // tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
	Merges     []string  // tokenizer.ggml.merges (gpt2): "left right"

	BOS, EOS, UNK, PAD, SEP, CLS int // tokenizer.ggml.{bos,eos,unknown,padding,seperator,cls}_token_id

	AddBOS, AddEOS, AddSpacePrefix *bool // tokenizer.ggml.add_bos_token, add_eos_token, add_space_prefix
}

func flag(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// ggufDefaults fills the special ids a file leaves NoToken with llama.cpp's
// defaults for its vocabulary type (llama_vocab::impl::load): a
// SentencePiece ("llama") vocabulary has <unk> 0, <s> 1 and </s> 2; a
// WordPiece ("bert") one has the uncased BERT ids [PAD] 0, [UNK] 100,
// [CLS] 101, [SEP] 102 ([MASK] 103 has no field here). A default past the
// end of the vocabulary is left out, where llama.cpp would fail later.
func ggufDefaults(v GGUFVocab) GGUFVocab {
	n := len(v.Tokens)
	set := func(dst *int, id int) {
		if *dst == NoToken && id < n {
			*dst = id
		}
	}
	switch v.Model {
	case "llama":
		set(&v.UNK, 0)
		set(&v.BOS, 1)
		set(&v.EOS, 2)
	case "bert":
		set(&v.PAD, 0)
		set(&v.UNK, 100)
		if v.BOS == NoToken {
			set(&v.CLS, 101)
		}
		if v.EOS == NoToken {
			set(&v.SEP, 102)
		}
	}
	return v
}

// FromGGUF builds the tokenizer a GGUF file describes, matching llama.cpp:
// "llama" is SentencePiece BPE (a "▁" prefix unless add_space_prefix is
// false; BOS added unless add_bos_token is false); "gpt2" is byte-level BPE
// with the pre-tokenizer that tokenizer.ggml.pre names; "bert" is WordPiece
// with BERT's uncased normalizer. Special ids left NoToken take llama.cpp's
// defaults for the vocabulary type (ggufDefaults).
func FromGGUF(v GGUFVocab) (*Pipeline, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, errors.New("GGUF: tokenizer.ggml.tokens is missing or empty")
	}
	types := v.TokenTypes
	if types == nil {
		types = make([]int32, n)
		for k := range types {
			types[k] = spm.Normal
		}
	}
	if len(types) != n {
		return nil, fmt.Errorf("GGUF: %d tokens but %d token types", n, len(types))
	}
	v = ggufDefaults(v)
	for _, id := range []int{v.BOS, v.EOS, v.UNK, v.PAD, v.SEP, v.CLS} {
		if id < NoToken || id >= n {
			return nil, fmt.Errorf("GGUF: special token id %d out of range [0, %d)", id, n)
		}
	}
	switch v.Model {
	case "llama":
		if len(v.Scores) != n {
			return nil, fmt.Errorf("GGUF: %d tokens but %d scores", n, len(v.Scores))
		}
		unk := v.UNK
		byteFallback := false
		for id, t := range types {
			if t == spm.Unknown && unk < 0 {
				unk = id
			}
			byteFallback = byteFallback || t == spm.Byte
		}
		if unk < 0 {
			return nil, errors.New("GGUF: llama vocabulary without an unknown token")
		}
		p, err := newSPM(spmParams{
			pieces: v.Tokens, scores: v.Scores, types: types,
			unk: unk, bos: v.BOS, eos: v.EOS, pad: v.PAD, byteFallback: byteFallback,
			addPrefix: flag(v.AddSpacePrefix, true),
			addBOS:    flag(v.AddBOS, true), addEOS: flag(v.AddEOS, false),
		})
		if err != nil {
			return nil, fmt.Errorf("GGUF: %w", err)
		}
		return p, nil
	case "gpt2":
		return ggufGPT2(v, types)
	case "bert":
		return ggufBERT(v, types)
	}
	return nil, fmt.Errorf("GGUF: tokenizer.ggml.model %q is not supported (llama, gpt2 and bert are)", v.Model)
}

func ggufGPT2(v GGUFVocab, types []int32) (*Pipeline, error) {
	pre, err := ggufPre(v.Pre)
	if err != nil {
		return nil, err
	}
	vocab := make(map[string]int, len(v.Tokens))
	for id, t := range v.Tokens {
		if _, dup := vocab[t]; !dup {
			vocab[t] = id
		}
	}
	merges := make([][2]string, len(v.Merges))
	for k, s := range v.Merges {
		a, c, ok := strings.Cut(s, " ")
		if !ok || strings.Contains(c, " ") {
			return nil, fmt.Errorf("GGUF: tokenizer.ggml.merges[%d] %q is not two tokens separated by one space", k, s)
		}
		merges[k] = [2]string{a, c}
	}
	m, err := bpe.New(vocab, merges, bpe.Options{ByteLevel: true, IgnoreMerges: pre.ignoreMerges, Unk: v.UNK})
	if err != nil {
		return nil, fmt.Errorf("GGUF: tokenizer.ggml.merges: %w", err)
	}
	b := &builder{}
	b.vocab(vocab)
	b.p.tokens = append([]string(nil), v.Tokens...)
	b.p.special = make([]bool, len(v.Tokens))
	b.added(ggufAdded(v.Tokens, types))
	b.p.model = m
	b.p.pre = fromSplitter(pre.split)
	b.p.steps = []decodeStep{decodeByteLevel}
	b.p.specials = Specials{BOS: v.BOS, EOS: v.EOS, UNK: v.UNK, PAD: v.PAD}
	if flag(v.AddBOS, pre.addBOS) && v.BOS >= 0 {
		b.p.prefix = []int{v.BOS}
	}
	if flag(v.AddEOS, false) && v.EOS >= 0 {
		b.p.suffix = []int{v.EOS}
	}
	return b.p, nil
}

// ggufAdded lists the tokens llama.cpp matches before the model (its
// special-token cache): control and unknown ones, which are special, and
// user-defined ones.
func ggufAdded(tokens []string, types []int32) []AddedToken {
	var added []AddedToken
	for id, t := range types {
		switch t {
		case spm.Control, spm.Unknown:
			added = append(added, AddedToken{ID: id, Content: tokens[id], Special: true})
		case spm.UserDefined:
			added = append(added, AddedToken{ID: id, Content: tokens[id]})
		}
	}
	return added
}

// ggufBERT builds WordPiece. llama.cpp's converter writes word-initial
// pieces with a "▁" prefix and continuations bare; a vocabulary with "##"
// pieces is taken as Hugging Face spells it.
func ggufBERT(v GGUFVocab, types []int32) (*Pipeline, error) {
	hf := false
	for _, t := range v.Tokens {
		if strings.HasPrefix(t, "##") {
			hf = true
			break
		}
	}
	tokens := make([]string, len(v.Tokens))
	for id, t := range v.Tokens {
		switch {
		case hf || types[id] == spm.Control || types[id] == spm.Unknown || types[id] == spm.UserDefined:
			tokens[id] = t
		case strings.HasPrefix(t, "▁"):
			tokens[id] = strings.TrimPrefix(t, "▁")
		default:
			tokens[id] = "##" + t
		}
	}
	vocab := make(map[string]int, len(tokens))
	for id, t := range tokens {
		if _, dup := vocab[t]; !dup {
			vocab[t] = id
		}
	}
	if v.UNK < 0 {
		return nil, errors.New("GGUF: bert vocabulary without tokenizer.ggml.unknown_token_id")
	}
	b := &builder{}
	b.vocab(vocab)
	b.p.tokens = tokens
	b.p.special = make([]bool, len(tokens))
	b.added(ggufAdded(tokens, types))
	o := wordpiece.NormalizerOptions{CleanText: true, HandleChineseChars: true, StripAccents: true, Lowercase: true}
	b.p.normalize = func(s string) string { return wordpiece.Normalize(s, o) }
	b.p.pre = func(s string, _ bool, emit func(string)) { wordpiece.PreTokenize(s, emit) }
	b.p.model = &wordpiece.Model{Vocab: vocab, Unk: v.UNK, Prefix: "##", MaxChars: 100}
	b.p.steps = []decodeStep{decodeWordPiece("##", true)}
	cls, sep := v.CLS, v.SEP
	if cls < 0 {
		cls = v.BOS
	}
	if sep < 0 {
		sep = v.EOS
	}
	b.p.specials = Specials{BOS: cls, EOS: sep, UNK: v.UNK, PAD: v.PAD}
	if flag(v.AddBOS, true) && cls >= 0 {
		b.p.prefix = []int{cls}
	}
	if flag(v.AddEOS, true) && sep >= 0 {
		b.p.suffix = []int{sep}
	}
	return b.p, nil
}
