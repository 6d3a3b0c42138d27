package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/loftml/loft/tokenizer/spm"
)

// LoadSentencePiece reads a SentencePiece tokenizer.model: BPE models (as
// Llama 2's) and unigram models (as T5's and ALBERT's), with their
// precompiled normalization rules (nmt_nfkc and the like) when they have
// them. cfg, from the folder's tokenizer_config.json, may be nil; it
// decides add_bos_token (default true) and add_eos_token (default false).
func LoadSentencePiece(path string, cfg *config) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	proto, err := spm.ParseProto(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a SentencePiece model: %w", path, err)
	}
	if proto.ModelType != spm.TypeBPE && proto.ModelType != spm.TypeUnigram {
		return nil, fmt.Errorf("%s: SentencePiece model type %d is not supported (unigram, 1, and BPE, 2, are)", path, proto.ModelType)
	}
	// Without a tokenizer_config.json, add BOS when the model has one, as
	// Hugging Face's LlamaTokenizer does.
	addBOS, addEOS := proto.BOSID >= 0, false
	if cfg != nil && cfg.AddBOS != nil {
		addBOS = *cfg.AddBOS
	}
	if cfg != nil && cfg.AddEOS != nil {
		addEOS = *cfg.AddEOS
	}
	p, err := newSPM(spmParams{
		pieces: proto.Pieces, scores: proto.Scores, types: proto.Types,
		unk: proto.UnkID, bos: proto.BOSID, eos: proto.EOSID, pad: proto.PadID,
		byteFallback: proto.ByteFallback, addPrefix: proto.AddDummyPrefix,
		removeExtraSpaces: proto.RemoveExtraSpaces, addBOS: addBOS, addEOS: addEOS,
		unigram:  proto.ModelType == spm.TypeUnigram,
		charsmap: proto.CharsMap, escape: proto.EscapeWhitespaces, userInModel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// spmParams describe a SentencePiece BPE tokenizer, from a tokenizer.model
// or from GGUF metadata.
type spmParams struct {
	pieces             []string
	scores             []float32
	types              []int32
	unk, bos, eos, pad int
	byteFallback       bool
	addPrefix          bool // add_dummy_prefix: a "▁" before the text
	removeExtraSpaces  bool
	addBOS, addEOS     bool
	unigram            bool   // the unigram model rather than BPE
	charsmap           []byte // SentencePiece's precompiled normalization rules, or nil
	escape             bool   // with charsmap: spaces become "▁"
	// userInModel leaves user-defined pieces to the model, which cuts them
	// out of the normalized text (SentencePiece); otherwise they are added
	// tokens matched in the raw text (llama.cpp).
	userInModel bool
}

// newSPM builds the pipeline SentencePiece runs: spaces become "▁" (one more
// in front), added tokens are the control, unknown and user-defined pieces,
// and decoding turns "▁" back into spaces and <0xXX> pieces into bytes.
func newSPM(sp spmParams) (*Pipeline, error) {
	var m interface {
		wordModel
		CrossesSpace() bool
	}
	var err error
	if sp.unigram {
		m, err = spm.NewUnigram(sp.pieces, sp.scores, sp.types, sp.unk, sp.byteFallback)
	} else {
		m, err = spm.NewModel(sp.pieces, sp.scores, sp.types, sp.unk, sp.byteFallback)
	}
	if err != nil {
		return nil, err
	}
	vocab := make(map[string]int, len(sp.pieces))
	for id, piece := range sp.pieces {
		if _, dup := vocab[piece]; !dup {
			vocab[piece] = id
		}
	}
	b := &builder{}
	b.vocab(vocab)
	// Keep every id, duplicates included.
	b.p.tokens = append([]string(nil), sp.pieces...)
	b.p.special = make([]bool, len(sp.pieces))
	var added []AddedToken
	for id, t := range sp.types {
		switch t {
		case spm.Control, spm.Unknown:
			added = append(added, AddedToken{ID: id, Content: sp.pieces[id], Special: true})
		case spm.UserDefined:
			if !sp.userInModel {
				added = append(added, AddedToken{ID: id, Content: sp.pieces[id]})
			}
		}
	}
	b.added(added)
	for _, id := range []int{sp.bos, sp.eos, sp.pad, sp.unk} {
		if id >= len(sp.pieces) {
			return nil, fmt.Errorf("special id %d out of range [0, %d)", id, len(sp.pieces))
		}
	}
	b.p.specials = Specials{BOS: sp.bos, EOS: sp.eos, UNK: sp.unk, PAD: sp.pad}
	addPrefix, removeExtra := sp.addPrefix, sp.removeExtraSpaces
	if sp.charsmap != nil {
		n, err := spm.NewNormalizer(sp.charsmap, sp.addPrefix, sp.removeExtraSpaces, sp.escape)
		if err != nil {
			return nil, err
		}
		if sp.userInModel {
			var user []string
			for id, t := range sp.types {
				if t == spm.UserDefined {
					user = append(user, sp.pieces[id])
				}
			}
			n.KeepPieces(user)
		}
		b.p.normalize = n.Normalize
	} else {
		b.p.normalize = plainSPMNormalize(addPrefix, removeExtra)
	}
	if !m.CrossesSpace() {
		b.p.pre = func(s string, _ bool, emit func(string)) { spaceChunks(s, emit) }
	}
	b.p.model = m
	// <0xXX> pieces decode as transformers' fast tokenizer for this model
	// does (LlamaConverter: Replace, ByteFallback, Fuse, Strip); the
	// sentencepiece library itself gives U+FFFD per invalid byte instead of
	// per byte token of an invalid run.
	b.p.steps = []decodeStep{decodeReplace("▁", " ")}
	b.p.byteRuns = true
	if addPrefix {
		b.p.stripLead = 1
	}
	if sp.addBOS {
		if sp.bos < 0 {
			return nil, errors.New("add BOS asked for, but the model has no BOS piece")
		}
		b.p.prefix = []int{sp.bos}
	}
	if sp.addEOS {
		if sp.eos < 0 {
			return nil, errors.New("add EOS asked for, but the model has no EOS piece")
		}
		b.p.suffix = []int{sp.eos}
	}
	return b.p, nil
}

// plainSPMNormalize is SentencePiece's normalization without rules (the
// identity normalizer): spaces become "▁", with one more in front. Invalid
// UTF-8 is kept as it is (byte fallback spells it), so that it round-trips.
func plainSPMNormalize(addPrefix, removeExtra bool) func(string) string {
	return func(s string) string {
		if removeExtra {
			s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
		}
		if s == "" {
			return s
		}
		s = strings.ReplaceAll(s, " ", "▁")
		if addPrefix {
			s = "▁" + s
		}
		return s
	}
}
