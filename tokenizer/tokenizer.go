package tokenizer

import (
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	// Encode returns the ids of text. Added and special tokens written in
	// text (say "<|im_start|>") are matched first and never split. With
	// addSpecial, the model's post-processing tokens (BOS, [CLS]/[SEP], ...)
	// are added around the ids.
	Encode(text string, addSpecial bool) []int
	// Decode returns the text of ids, leaving out special tokens when
	// skipSpecial is set. Decode(Encode(x, false), false) == x for any text
	// that the normalizer leaves unchanged (byte-level BPE and SentencePiece).
	Decode(ids []int, skipSpecial bool) string
	// VocabSize is one more than the largest id.
	VocabSize() int
	// Specials returns the ids of the special tokens the model defines.
	Specials() Specials
	// NewStreamDecoder returns a decoder for ids that arrive one at a time.
	NewStreamDecoder(skipSpecial bool) *StreamDecoder
}

var _ Tokenizer = (*Pipeline)(nil)

// Specials holds the ids of a tokenizer's special tokens; -1 means absent.
type Specials struct {
	BOS, EOS, UNK, PAD int
}

// wordModel is a tokenization model: it appends the ids of one pre-token.
type wordModel interface {
	Encode(dst []int, word string) []int
}

// Pipeline is the tokenizer every loader builds, in Hugging Face's order:
// added tokens are cut out of the raw text first; each remaining segment is
// normalized, split into words by the pre-tokenizer, and each word is
// encoded by the model; the post-processor adds BOS/EOS or [CLS]/[SEP];
// decoding maps every token through the decoder steps. It is safe for
// concurrent use.
type Pipeline struct {
	tokens   []string       // id -> token string ("" for holes)
	ids      map[string]int // model token string -> id (shared with the model: read only)
	addedIDs map[string]int // added token string -> id
	special  []bool         // id -> special (skipped by Decode with skipSpecial)

	addedList []AddedToken // the added tokens, for extending them
	// Added-token matchers: raw ones run on the text, normalized ones (Hugging
	// Face's normalized: true) on each normalized segment; the "plain" ones
	// leave out special tokens (EncodeSplitSpecial).
	raw, rawPlain, norm, normPlain *addedMatcher
	normalize                      func(string) string                           // nil: identity
	pre                            func(s string, first bool, emit func(string)) // nil: the segment is one word
	model                          wordModel

	prefix, suffix []int // post-processor for a single sequence

	steps     []decodeStep // per-token decoder chain
	stripLead int          // leading spaces to strip from the whole decoded text
	specials  Specials
}

// Encode implements Tokenizer.
func (p *Pipeline) Encode(text string, addSpecial bool) []int {
	return p.encode(text, addSpecial, p.raw, p.norm)
}

// EncodeSplitSpecial is Encode for untrusted text (Hugging Face's
// split_special_tokens): special-token strings such as "<|im_start|>" or
// "<s>" in text are tokenized as the plain text they are, so that user data
// cannot forge control tokens. Non-special added tokens still match.
func (p *Pipeline) EncodeSplitSpecial(text string, addSpecial bool) []int {
	return p.encode(text, addSpecial, p.rawPlain, p.normPlain)
}

func (p *Pipeline) encode(text string, addSpecial bool, raw, norm *addedMatcher) []int {
	var ids []int
	if addSpecial {
		ids = append(ids, p.prefix...)
	}
	first := true
	raw.split(text, func(seg string, id int) {
		if id >= 0 {
			ids = append(ids, id)
			first = false
			return
		}
		if p.normalize != nil {
			seg = p.normalize(seg)
		}
		norm.split(seg, func(seg string, id int) {
			if id >= 0 {
				ids = append(ids, id)
			} else {
				ids = p.encodeSegment(ids, seg, first)
			}
			first = false
		})
	})
	if addSpecial {
		ids = append(ids, p.suffix...)
	}
	return ids
}

// encodeSegment appends the ids of a piece of normalized text free of added
// tokens. first tells whether it starts the text (Metaspace's
// prepend_scheme "first").
func (p *Pipeline) encodeSegment(ids []int, seg string, first bool) []int {
	if seg == "" {
		return ids
	}
	if p.pre == nil {
		return p.model.Encode(ids, seg)
	}
	p.pre(seg, first, func(w string) { ids = p.model.Encode(ids, w) })
	return ids
}

// Decode implements Tokenizer. It returns the exact bytes the tokens stand
// for; only ids that spell a broken UTF-8 sequence (a truncated generation)
// give invalid UTF-8. Unknown ids are left out.
func (p *Pipeline) Decode(ids []int, skipSpecial bool) string {
	var d decodeState
	d.stripLead = p.stripLead
	var out []byte
	for _, id := range ids {
		out = p.decodeOne(out, &d, id, skipSpecial)
	}
	return string(out)
}

// decodeState is what decoding carries from token to token.
type decodeState struct {
	i         int // index of the next token among those decoded
	stripLead int // leading spaces still to strip
	buf       []byte
}

func (p *Pipeline) decodeOne(out []byte, d *decodeState, id int, skipSpecial bool) []byte {
	if id < 0 || id >= len(p.tokens) || (skipSpecial && p.special[id]) {
		return out
	}
	b := append(d.buf[:0], p.tokens[id]...)
	for _, st := range p.steps {
		b = st(b, d.i)
	}
	d.i++
	for d.stripLead > 0 && len(b) > 0 {
		if b[0] != ' ' {
			d.stripLead = 0
			break
		}
		b = b[1:]
		d.stripLead--
	}
	d.buf = b[:0]
	return append(out, b...)
}

// VocabSize implements Tokenizer.
func (p *Pipeline) VocabSize() int { return len(p.tokens) }

// Specials implements Tokenizer.
func (p *Pipeline) Specials() Specials { return p.specials }

// Token returns the string of id as the vocabulary spells it (GPT-2 byte
// characters, "▁", "##" and all), and false for an unknown id.
func (p *Pipeline) Token(id int) (string, bool) {
	if id < 0 || id >= len(p.tokens) {
		return "", false
	}
	return p.tokens[id], true
}

// ID returns the id of a token string, as the vocabulary spells it.
func (p *Pipeline) ID(token string) (int, bool) {
	if id, ok := p.addedIDs[token]; ok {
		return id, true
	}
	id, ok := p.ids[token]
	return id, ok
}

// IsSpecial tells whether id is a special (control) token.
func (p *Pipeline) IsSpecial(id int) bool {
	return id >= 0 && id < len(p.special) && p.special[id]
}

// StreamDecoder decodes ids one at a time, as a model generates them, and
// never returns half a UTF-8 character: bytes of a character that is not
// complete yet wait for the next id.
type StreamDecoder struct {
	p           *Pipeline
	skipSpecial bool
	d           decodeState
	pending     []byte // decoded bytes not returned yet
}

// NewStreamDecoder returns a decoder for one stream of ids.
func (p *Pipeline) NewStreamDecoder(skipSpecial bool) *StreamDecoder {
	return &StreamDecoder{p: p, skipSpecial: skipSpecial, d: decodeState{stripLead: p.stripLead}}
}

// Prime decodes ids that come before the stream, a prompt the stream
// continues, and drops their text: what Add returns next is what the
// whole sequence's text gains. A SentencePiece decoder strips the space
// that starts a text; after a prompt with text of its own, the next word's
// space belongs to the continuation ("Once upon a" + " time"). Prime must
// come before the first Add.
func (s *StreamDecoder) Prime(ids []int) {
	for _, id := range ids {
		s.pending = s.p.decodeOne(s.pending[:0], &s.d, id, s.skipSpecial)
	}
	s.pending = s.pending[:0]
}

// Add decodes id and returns the text that is now complete (often "").
// Bytes that can never form a valid character come out as U+FFFD.
func (s *StreamDecoder) Add(id int) string {
	s.pending = s.p.decodeOne(s.pending, &s.d, id, s.skipSpecial)
	return s.take(false)
}

// Flush returns what is left, an unfinished character as U+FFFD.
func (s *StreamDecoder) Flush() string { return s.take(true) }

func (s *StreamDecoder) take(all bool) string {
	b := s.pending
	var out []byte
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !all && !utf8.FullRune(b[i:]) {
			break
		}
		r, w := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && w == 1 {
			out = append(out, b[:i]...)
			out = utf8.AppendRune(out, utf8.RuneError)
			b = b[i+1:]
			i = 0
			continue
		}
		i += w
	}
	out = append(out, b[:i]...)
	s.pending = append(s.pending[:0], b[i:]...)
	return string(out)
}

// buildMatchers makes the added-token matchers from addedList, normalizing
// the content of normalized tokens as their segments will be.
func (p *Pipeline) buildMatchers() {
	var raw, rawPlain, norm, normPlain []AddedToken
	for _, t := range p.addedList {
		if t.Normalized && p.normalize != nil {
			t.Content = p.normalize(t.Content)
			if t.Content == "" {
				continue
			}
		}
		if t.Normalized {
			norm = append(norm, t)
			if !t.Special {
				normPlain = append(normPlain, t)
			}
			continue
		}
		raw = append(raw, t)
		if !t.Special {
			rawPlain = append(rawPlain, t)
		}
	}
	p.raw, p.rawPlain = newAddedMatcher(raw), newAddedMatcher(rawPlain)
	p.norm, p.normPlain = newAddedMatcher(norm), newAddedMatcher(normPlain)
}
