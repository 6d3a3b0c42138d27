package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/loftml/loft/tokenizer/bpe"
	"github.com/loftml/loft/tokenizer/pretok"
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
	Left               *bool `json:"left"`
	Right              *bool `json:"right"`
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
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if f.Model == nil {
		return nil, errors.New(`no "model"`)
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
		added = append(added, AddedToken{ID: t.ID, Content: t.Content, Special: t.Special, LStrip: t.LStrip, RStrip: t.RStrip, Normalized: t.Normalized})
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

func (b *builder) normalizer(c *hfComp) (func(string) string, error) {
	switch c.Type {
	case "Sequence":
		var fs []func(string) string
		for k, sub := range c.Normalizers {
			f, err := b.normalizer(sub)
			if err != nil {
				return nil, fmt.Errorf("normalizers[%d]: %w", k, err)
			}
			fs = append(fs, f)
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Lowercase":
		return strings.ToLower, nil
	case "Strip":
		left, right := c.Left == nil || *c.Left, c.Right == nil || *c.Right
		return func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}, nil
	case "StripAccents":
		return func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.Is(unicode.Mn, r) {
					return -1
				}
				return r
			}, s)
		}, nil
	case "Prepend":
		pre := c.Prepend
		return func(s string) string {
			if s == "" {
				return s
			}
			return pre + s
		}, nil
	case "Replace":
		if c.Pattern == nil {
			return nil, errors.New("Replace without pattern")
		}
		if c.Pattern.String != nil {
			old, new := *c.Pattern.String, c.Content
			return func(s string) string { return strings.ReplaceAll(s, old, new) }, nil
		}
		if c.Pattern.Regex != nil {
			re, err := regexp.Compile(*c.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("Replace regex: %w", err)
			}
			new := c.Content
			return func(s string) string { return re.ReplaceAllLiteralString(s, new) }, nil
		}
		return nil, errors.New("Replace pattern is neither String nor Regex")
	case "Precompiled":
		// SentencePiece's compiled rules (T5, ALBERT, XLM-R files), applied
		// longest match first as SentencePiece does.
		if len(c.CharsMap) == 0 {
			return func(s string) string { return s }, nil
		}
		n, err := spm.NewNormalizer(c.CharsMap, false, false, false)
		if err != nil {
			return nil, err
		}
		return n.Normalize, nil
	case "BertNormalizer":
		o := wordpiece.NormalizerOptions{
			CleanText:          c.CleanText == nil || *c.CleanText,
			HandleChineseChars: c.HandleChineseChars == nil || *c.HandleChineseChars,
			Lowercase:          c.Lowercase == nil || *c.Lowercase,
		}
		o.StripAccents = o.Lowercase
		if c.StripAccents != nil {
			o.StripAccents = *c.StripAccents
		}
		return func(s string) string { return wordpiece.Normalize(s, o) }, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported", c.Type)
}

type preFunc = func(s string, first bool, emit func(string))

func fromSplitter(sp pretok.Splitter) preFunc {
	return func(s string, _ bool, emit func(string)) { sp.Split(s, emit) }
}

func (b *builder) preTokenizer(c *hfComp) (preFunc, error) {
	switch c.Type {
	case "Sequence":
		var fs []preFunc
		for k, sub := range c.PreTokenizers {
			f, err := b.preTokenizer(sub)
			if err != nil {
				return nil, fmt.Errorf("pretokenizers[%d]: %w", k, err)
			}
			fs = append(fs, f)
		}
		if len(fs) == 0 {
			return nil, nil
		}
		f := fs[0]
		for _, g := range fs[1:] {
			f0, g := f, g
			f = func(s string, first bool, emit func(string)) {
				f0(s, first, func(w string) { g(w, first, emit) })
			}
		}
		return f, nil
	case "ByteLevel":
		b.byteLevel = true
		useRegex := c.UseRegex == nil || *c.UseRegex
		prefix := c.AddPrefixSpace != nil && *c.AddPrefixSpace
		split := pretok.Hand{Kind: pretok.GPT2}
		return func(s string, _ bool, emit func(string)) {
			if prefix && !strings.HasPrefix(s, " ") {
				s = " " + s
			}
			if useRegex {
				split.Split(s, emit)
			} else {
				emit(s)
			}
		}, nil
	case "Split":
		if c.Pattern == nil {
			return nil, errors.New("Split without pattern")
		}
		var pattern string
		switch {
		case c.Pattern.Regex != nil:
			pattern = *c.Pattern.Regex
		case c.Pattern.String != nil:
			pattern = regexp.QuoteMeta(*c.Pattern.String)
		default:
			return nil, errors.New("Split pattern is neither String nor Regex")
		}
		behaviors := map[string]pretok.Behavior{
			"Isolated": pretok.Isolated, "Removed": pretok.Removed, "MergedWithPrevious": pretok.MergedWithPrevious,
			"MergedWithNext": pretok.MergedWithNext, "Contiguous": pretok.Contiguous,
		}
		behavior, ok := behaviors[c.Behavior]
		if !ok {
			return nil, fmt.Errorf("Split behavior %q is not supported", c.Behavior)
		}
		// invert swaps the roles of matches and the text between them.
		if c.Invert {
			switch behavior {
			case pretok.Removed:
				behavior = pretok.MatchesOnly
			case pretok.Isolated:
			default:
				return nil, fmt.Errorf("Split behavior %q with invert is not supported", c.Behavior)
			}
		}
		if behavior == pretok.Isolated {
			if sp := pretok.ForPattern(pattern); sp != nil {
				return fromSplitter(sp), nil
			}
		}
		re, err := pretok.NewRegex(pattern, behavior)
		if err != nil {
			return nil, err
		}
		return fromSplitter(re), nil
	case "Metaspace":
		repl := c.Replacement
		if repl == "" {
			repl = "▁"
		}
		scheme := c.PrependScheme
		if scheme == "" {
			scheme = "always"
			if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
				scheme = "never"
			}
		}
		split := c.Split == nil || *c.Split
		b.prepended = scheme != "never"
		return func(s string, first bool, emit func(string)) {
			s = strings.ReplaceAll(s, " ", repl)
			if (scheme == "always" || (scheme == "first" && first)) && !strings.HasPrefix(s, repl) {
				s = repl + s
			}
			if !split {
				emit(s)
				return
			}
			// Each replacement character starts a new word.
			start := 0
			for i := 0; i < len(s); {
				j := strings.Index(s[i:], repl)
				if j < 0 {
					break
				}
				i += j
				if i > start {
					emit(s[start:i])
					start = i
				}
				i += len(repl)
			}
			if start < len(s) {
				emit(s[start:])
			}
		}, nil
	case "BertPreTokenizer":
		return func(s string, _ bool, emit func(string)) { wordpiece.PreTokenize(s, emit) }, nil
	case "WhitespaceSplit":
		return func(s string, _ bool, emit func(string)) {
			for _, w := range strings.Fields(s) {
				emit(w)
			}
		}, nil
	case "Whitespace":
		re, err := pretok.NewRegex(`\w+|[^\w\s]+`, pretok.Isolated)
		if err != nil {
			return nil, err
		}
		return func(s string, _ bool, emit func(string)) {
			re.Split(s, func(w string) {
				if strings.TrimSpace(w) != "" {
					emit(w)
				}
			})
		}, nil
	case "Digits":
		pat := `\p{N}+`
		if c.IndividualDigits {
			pat = `\p{N}`
		}
		re, err := pretok.NewRegex(pat, pretok.Isolated)
		if err != nil {
			return nil, err
		}
		return fromSplitter(re), nil
	case "Punctuation":
		return func(s string, _ bool, emit func(string)) {
			start := 0
			for i, r := range s {
				if wordpiece.IsPunctuation(r) {
					if i > start {
						emit(s[start:i])
					}
					n := len(string(r))
					emit(s[i : i+n])
					start = i + n
				}
			}
			if start < len(s) {
				emit(s[start:])
			}
		}, nil
	}
	return nil, fmt.Errorf("pre-tokenizer type %q is not supported", c.Type)
}

// tokenID resolves a [token, id] pair of Bert/RobertaProcessing.
func (b *builder) tokenID(pair []json.RawMessage) (int, error) {
	if len(pair) != 2 {
		return 0, errors.New("want [token, id]")
	}
	var id int
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, err
	}
	return id, nil
}

func (b *builder) postProcessor(c *hfComp) error {
	switch c.Type {
	case "Sequence":
		for k, sub := range c.Processors {
			if err := b.postProcessor(sub); err != nil {
				return fmt.Errorf("processors[%d]: %w", k, err)
			}
		}
		return nil
	case "ByteLevel":
		return nil
	case "TemplateProcessing":
		seen := false
		for _, piece := range c.Single {
			switch {
			case piece.Sequence != nil:
				seen = true
			case piece.SpecialToken != nil:
				st, ok := c.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("template names special token %q missing from special_tokens", piece.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if id < 0 || id >= len(b.p.tokens) {
						return fmt.Errorf("special token %q has id %d out of range", piece.SpecialToken.ID, id)
					}
				}
				if seen {
					b.p.suffix = append(b.p.suffix, st.IDs...)
				} else {
					b.p.prefix = append(b.p.prefix, st.IDs...)
				}
			}
		}
		return nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := b.tokenID(c.Cls)
		if err != nil {
			return fmt.Errorf("cls: %w", err)
		}
		sep, err := b.tokenID(c.Sep)
		if err != nil {
			return fmt.Errorf("sep: %w", err)
		}
		b.p.prefix = append(b.p.prefix, cls)
		b.p.suffix = append(b.p.suffix, sep)
		return nil
	}
	return fmt.Errorf("post-processor type %q is not supported", c.Type)
}

// decoder appends decoder steps; fused tells whether a Fuse came before, so
// that Strip acts on the whole text.
func (b *builder) decoder(c *hfComp, fused bool) error {
	switch c.Type {
	case "Sequence":
		for k, sub := range c.Decoders {
			if err := b.decoder(sub, fused); err != nil {
				return fmt.Errorf("decoders[%d]: %w", k, err)
			}
			if sub.Type == "Fuse" {
				fused = true
			}
		}
		return nil
	case "ByteLevel":
		b.p.steps = append(b.p.steps, decodeByteLevel)
	case "ByteFallback":
		b.p.steps = append(b.p.steps, decodeByteFallback)
	case "Fuse":
	case "Replace":
		if c.Pattern == nil || c.Pattern.String == nil {
			return errors.New("Replace decoder needs a String pattern")
		}
		b.p.steps = append(b.p.steps, decodeReplace(*c.Pattern.String, c.Content))
	case "Strip":
		if fused {
			if c.Content != " " || c.Stop != 0 {
				return fmt.Errorf("Strip of %q (start %d, stop %d) after Fuse is not supported", c.Content, c.Start, c.Stop)
			}
			b.p.stripLead = c.Start
			return nil
		}
		b.p.steps = append(b.p.steps, decodeStrip(c.Content, c.Start, c.Stop))
	case "Metaspace":
		repl := c.Replacement
		if repl == "" {
			repl = "▁"
		}
		prepend := c.PrependScheme != "never"
		if c.PrependScheme == "" && c.AddPrefixSpace != nil {
			prepend = *c.AddPrefixSpace
		}
		b.p.steps = append(b.p.steps, decodeMetaspace(repl, prepend))
	case "WordPiece":
		prefix := c.Prefix
		if prefix == "" {
			prefix = "##"
		}
		b.p.steps = append(b.p.steps, decodeWordPiece(prefix, c.Cleanup == nil || *c.Cleanup))
	case "BPEDecoder":
		b.p.steps = append(b.p.steps, decodeSuffix(c.Suffix))
	default:
		return fmt.Errorf("decoder type %q is not supported", c.Type)
	}
	return nil
}
