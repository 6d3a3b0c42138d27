package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/tokenizer/bpe"
	"github.com/loftml/loft/tokenizer/spm"
	"github.com/loftml/loft/tokenizer/wordpiece"
)

// LoadJSON reads a Hugging Face tokenizer.json.
func LoadJSON(path string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := ParseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// hfFile is the part of tokenizer.json that loft reads.
type hfFile struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		SingleWord bool   `json:"single_word"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    *hfComp `json:"normalizer"`
	PreTokenizer  *hfComp `json:"pre_tokenizer"`
	PostProcessor *hfComp `json:"post_processor"`
	Decoder       *hfComp `json:"decoder"`
	Model         *struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		FuseUnk                 bool            `json:"fuse_unk"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		MaxInputCharsPerWord    int             `json:"max_input_chars_per_word"`
		UnkID                   *int            `json:"unk_id"`
		Dropout                 *float64        `json:"dropout"`
	} `json:"model"`
}

// hfComp is any normalizer, pre-tokenizer, post-processor or decoder: the
// union of the fields loft reads, picked by Type.
type hfComp struct {
	Type string `json:"type"`

	Normalizers   []*hfComp `json:"normalizers"`
	PreTokenizers []*hfComp `json:"pretokenizers"`
	Processors    []*hfComp `json:"processors"`
	Decoders      []*hfComp `json:"decoders"`

	Pattern *struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content  string `json:"content"`
	Prepend  string `json:"prepend"`
	CharsMap []byte `json:"precompiled_charsmap"` // base64 in the file
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`

	AddPrefixSpace *bool  `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
	Replacement    string `json:"replacement"`
	PrependScheme  string `json:"prepend_scheme"`
	Split          *bool  `json:"split"`

	Start  int    `json:"start"`
	Stop   int    `json:"stop"`
	Prefix string `json:"prefix"`
	Suffix string `json:"suffix"`

	Cleanup            *bool `json:"cleanup"`
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	StripLeft          *bool `json:"strip_left"`
	StripRight         *bool `json:"strip_right"`
	IndividualDigits   bool  `json:"individual_digits"`

	Single        []hfTemplatePiece `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

type hfTemplatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

// ParseJSON builds a tokenizer from the contents of a tokenizer.json.
func ParseJSON(data []byte) (*Pipeline, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonerr.Describe(data, err)
	}
	if f.Model == nil {
		return nil, errors.New(`not a tokenizer.json: no "model" object`)
	}
	b := &builder{}
	var vocab map[string]int
	var unigram *unigramVocab
	switch f.Model.Type {
	case "BPE", "WordPiece", "":
		var err error
		if vocab, err = parseVocab(f.Model.Vocab); err != nil {
			return nil, fmt.Errorf("model.vocab: %w", err)
		}
	case "Unigram":
		var err error
		if unigram, err = parseUnigramVocab(f.Model.Vocab); err != nil {
			return nil, fmt.Errorf("model.vocab: %w", err)
		}
		vocab = make(map[string]int, len(unigram.pieces))
		for id, p := range unigram.pieces {
			if _, dup := vocab[p]; !dup {
				vocab[p] = id
			}
		}
	default:
		return nil, fmt.Errorf("model type %q is not supported (BPE, WordPiece and Unigram are)", f.Model.Type)
	}
	var added []AddedToken
	for _, t := range f.AddedTokens {
		if t.ID < 0 || t.Content == "" {
			return nil, fmt.Errorf("added_tokens: bad token %q with id %d", t.Content, t.ID)
		}
		added = append(added, AddedToken{ID: t.ID, Content: t.Content, Special: t.Special, LStrip: t.LStrip, RStrip: t.RStrip, SingleWord: t.SingleWord, Normalized: t.Normalized})
	}
	if err := checkIDs(vocab, added); err != nil {
		return nil, err
	}
	b.vocab(vocab)
	b.added(added)
	unk := -1
	if f.Model.Type == "Unigram" && f.Model.UnkID != nil {
		if *f.Model.UnkID < 0 || *f.Model.UnkID >= len(unigram.pieces) {
			return nil, fmt.Errorf("model.unk_id %d out of range [0, %d)", *f.Model.UnkID, len(unigram.pieces))
		}
		unk = *f.Model.UnkID
	}
	if f.Model.UnkToken != nil {
		id, ok := b.p.ID(*f.Model.UnkToken)
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in the vocabulary", *f.Model.UnkToken)
		}
		unk = id
	}
	b.p.specials.UNK = unk

	var err error
	if f.Normalizer != nil {
		if b.p.normalize, err = b.normalizer(f.Normalizer); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
	}
	b.p.buildMatchers() // now that normalized tokens can be normalized
	if f.PreTokenizer != nil {
		if b.p.pre, err = b.preTokenizer(f.PreTokenizer); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	switch f.Model.Type {
	case "Unigram":
		if unk < 0 {
			return nil, errors.New("Unigram model without unk_id")
		}
		m, err := spm.NewUnigram(unigram.pieces, unigram.scores, nil, unk, f.Model.ByteFallback)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		b.p.model = m
		if b.p.pre == nil && !m.CrossesSpace() {
			b.p.pre = func(s string, _ bool, emit func(string)) { spaceChunks(s, emit) }
		}
	case "WordPiece":
		prefix := "##"
		if f.Model.ContinuingSubwordPrefix != nil {
			prefix = *f.Model.ContinuingSubwordPrefix
		}
		max := f.Model.MaxInputCharsPerWord
		if max == 0 {
			max = 100
		}
		if unk < 0 {
			return nil, errors.New("WordPiece model without unk_token")
		}
		b.p.model = &wordpiece.Model{Vocab: vocab, Unk: unk, Prefix: prefix, MaxChars: max}
	default: // BPE
		if f.Model.Dropout != nil && *f.Model.Dropout > 0 {
			return nil, errors.New("BPE dropout is not supported")
		}
		if (f.Model.ContinuingSubwordPrefix != nil && *f.Model.ContinuingSubwordPrefix != "") ||
			(f.Model.EndOfWordSuffix != nil && *f.Model.EndOfWordSuffix != "") {
			return nil, errors.New("BPE continuing_subword_prefix/end_of_word_suffix are not supported")
		}
		var merges [][2]string
		if len(f.Model.Merges) > 0 {
			if merges, err = parseMerges(f.Model.Merges); err != nil {
				return nil, fmt.Errorf("model.merges: %w", err)
			}
		}
		m, err := bpe.New(vocab, merges, bpe.Options{
			ByteLevel: b.byteLevel, ByteFallback: f.Model.ByteFallback,
			IgnoreMerges: f.Model.IgnoreMerges, Unk: unk, FuseUnk: f.Model.FuseUnk,
		})
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		b.p.model = m
		// Without a pre-tokenizer the whole text is one word; cut it into
		// "▁"-started chunks when no merge can join across such a cut.
		if b.p.pre == nil && !mergesCrossSpace(merges) {
			b.p.pre = func(s string, _ bool, emit func(string)) { spaceChunks(s, emit) }
		}
	}
	if f.PostProcessor != nil {
		if err := b.postProcessor(f.PostProcessor); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
	}
	if f.Decoder != nil {
		if err := b.decoder(f.Decoder, false); err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
	}
	if len(b.p.prefix) > 0 && b.p.special[b.p.prefix[0]] {
		b.p.specials.BOS = b.p.prefix[0]
	}
	if len(b.p.suffix) > 0 && b.p.special[b.p.suffix[len(b.p.suffix)-1]] && b.p.specials.BOS != b.p.suffix[len(b.p.suffix)-1] {
		b.p.specials.EOS = b.p.suffix[len(b.p.suffix)-1]
	}
	return b.p, nil
}

// mergesCrossSpace reports whether a merge joins a token ending in something
// other than "▁" to one starting with "▁".
func mergesCrossSpace(merges [][2]string) bool {
	for _, m := range merges {
		if strings.HasPrefix(m[1], "▁") && !strings.HasSuffix(m[0], "▁") {
			return true
		}
	}
	return false
}

// spaceChunks cuts s before every "▁" that follows another character.
func spaceChunks(s string, emit func(string)) {
	const sp = "▁"
	start := 0
	for i := 1; i < len(s); {
		j := strings.Index(s[i:], sp)
		if j < 0 {
			break
		}
		i += j
		if !strings.HasSuffix(s[:i], sp) {
			emit(s[start:i])
			start = i
		}
		i += len(sp)
	}
	emit(s[start:])
}

// checkIDs rejects ids far beyond the number of tokens: the id space is
// allocated densely, and a bad or hostile file must not make it huge.
func checkIDs(vocab map[string]int, added []AddedToken) error {
	limit := 2*(len(vocab)+len(added)) + 1<<16
	for tok, id := range vocab {
		if id >= limit {
			return fmt.Errorf("vocabulary token %q has id %d, far beyond the %d tokens", tok, id, len(vocab))
		}
	}
	for _, t := range added {
		if t.ID >= limit {
			return fmt.Errorf("added token %q has id %d, far beyond the %d tokens", t.Content, t.ID, len(vocab)+len(added))
		}
	}
	return nil
}

// builder assembles a Pipeline.
type builder struct {
	p         *Pipeline
	byteLevel bool // a ByteLevel pre-tokenizer: the model sees raw bytes
	prepended bool // a Metaspace pre-tokenizer adds a prefix space
}

// vocab starts the pipeline with the model's vocabulary.
func (b *builder) vocab(v map[string]int) {
	n := 0
	for _, id := range v {
		n = max(n, id+1)
	}
	b.p = &Pipeline{
		tokens:   make([]string, n),
		ids:      v,
		addedIDs: map[string]int{},
		special:  make([]bool, n),
		specials: Specials{BOS: -1, EOS: -1, UNK: -1, PAD: -1},
	}
	for tok, id := range v {
		b.p.tokens[id] = tok
	}
}

// added registers the added tokens, growing the id space as needed.
func (b *builder) added(ts []AddedToken) {
	for _, t := range ts {
		for t.ID >= len(b.p.tokens) {
			b.p.tokens = append(b.p.tokens, "")
			b.p.special = append(b.p.special, false)
		}
		b.p.tokens[t.ID] = t.Content
		b.p.addedIDs[t.Content] = t.ID
		b.p.special[t.ID] = t.Special
	}
	b.p.addedList = ts
	b.p.buildMatchers()
}
