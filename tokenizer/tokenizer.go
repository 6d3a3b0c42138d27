package tokenizer

import (
	"bytes"
	"unicode/utf8"

	"github.com/loftml/loft/tokenizer/spm"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	// Encode returns the ids of text. Added and special tokens written in
	// text (say "<|im_start|>") are matched first and never split. With
	// addSpecial, the model's post-processing tokens (BOS, [CLS]/[SEP], ...)
	// are added around the ids.
	Encode(text string, addSpecial bool) []int
	// Decode returns the text of ids, valid UTF-8, leaving out special
	// tokens when skipSpecial is set. Decode(Encode(x, false), false) == x
	// for any valid UTF-8 text that the normalizer leaves unchanged
	// (byte-level BPE and SentencePiece).
	Decode(ids []int, skipSpecial bool) string
	// VocabSize is one more than the largest id.
	VocabSize() int
	// Specials returns the ids of the special tokens the model defines.
	Specials() Specials
	// IsSpecial tells whether id is a special (control) token: one that
	// Decode with skipSpecial leaves out.
	IsSpecial(id int) bool
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
	// byteRuns decodes <0xXX> tokens as Hugging Face's ByteFallback
	// decoder: each run of them as one text, or one U+FFFD per token of a
	// run that is not valid UTF-8 as a whole (decodeState.endRun).
	byteRuns bool
	specials Specials
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

// Decode implements Tokenizer. It returns valid UTF-8: where the ids spell
// broken UTF-8 (a truncated generation, or ids out of order), byte-level
// tokens give one U+FFFD per maximal invalid subpart, as Hugging Face's
// ByteLevel decoder (String::from_utf8_lossy), and a run of <0xXX> tokens
// that is not valid UTF-8 one U+FFFD per token, as its ByteFallback
// decoder. Unknown ids are left out.
func (p *Pipeline) Decode(ids []int, skipSpecial bool) string {
	d := decodeState{stripLead: p.stripLead}
	var out []byte
	for _, id := range ids {
		out = p.decodeOne(out, &d, id, skipSpecial)
	}
	out = d.endRun(out)
	if utf8.Valid(out) {
		return string(out)
	}
	return string(appendLossy(nil, out))
}

// decodeState is what decoding carries from token to token.
type decodeState struct {
	i         int // index of the next token among those decoded
	stripLead int // leading spaces still to strip
	buf       []byte
	run       []byte // the bytes of the <0xXX> tokens since the last other token (byteRuns)
	shown     int    // how many bytes of run a StreamDecoder has returned (showRun)
	broken    bool   // run can no longer be valid UTF-8, and showRun gave U+FFFD for it
}

func (p *Pipeline) decodeOne(out []byte, d *decodeState, id int, skipSpecial bool) []byte {
	if id < 0 || id >= len(p.tokens) || (skipSpecial && p.special[id]) {
		return out
	}
	if p.byteRuns {
		if b, ok := spm.ByteToken(p.tokens[id]); ok {
			d.run = append(d.run, b)
			d.i++
			return out
		}
		out = d.endRun(out)
	}
	b := append(d.buf[:0], p.tokens[id]...)
	for _, st := range p.steps {
		b = st(b, d.i)
	}
	d.i++
	b = d.strip(b)
	d.buf = b[:0]
	return append(out, b...)
}

// endRun appends the text of the <0xXX> tokens decoded since the last
// other token, as Hugging Face's ByteFallback decoder does: their bytes
// when valid UTF-8 together, otherwise one U+FFFD per token. Only the
// tokens showRun has not shown yet are appended; the shown ones are whole
// valid characters, so the run is valid exactly when the rest is.
func (d *decodeState) endRun(out []byte) []byte {
	if len(d.run) == 0 {
		return out
	}
	b := d.run[d.shown:]
	if !utf8.Valid(b) {
		b = bytes.Repeat([]byte("\uFFFD"), len(b))
	}
	out = append(out, d.strip(b)...)
	d.run, d.shown, d.broken = d.run[:0], 0, false
	return out
}

// showRun appends the complete characters of the run that were not shown
// yet, for a StreamDecoder, and keeps an unfinished character at its end
// for the next byte token. Waiting for the run's end instead would show a
// newline, which Llama 2 and Mistral spell <0x0A>, one token late, and a
// stop string ending in it would be found one token late; transformers'
// TextStreamer too prints text as soon as it is complete.
//
// Decode gives one U+FFFD per token for a run that is not valid UTF-8 as
// a whole, valid characters in it included, which a stream cannot know
// before the run ends. Once the run can no longer be valid (an invalid
// byte), each token not shown yet, and each later token of the run, gives
// one U+FFFD, as in Decode; a run truncated inside a character gives them
// at its end (endRun). So a stream's text differs from Decode's only for
// a run broken after some of its characters were shown: a broken
// generation, where it keeps those characters.
func (d *decodeState) showRun(out []byte) []byte {
	rest := d.run[d.shown:]
	n := len(rest) - partialTail(rest)
	if d.broken || !utf8.Valid(rest[:n]) {
		d.broken = true
		n = len(rest)
		out = append(out, d.strip(bytes.Repeat([]byte("\uFFFD"), n))...)
	} else {
		out = append(out, d.strip(rest[:n])...)
	}
	d.shown += n
	return out
}

// strip drops the leading spaces of the text still to strip (Strip after
// Fuse, SentencePiece's dummy prefix) from b, the text's next piece.
func (d *decodeState) strip(b []byte) []byte {
	for d.stripLead > 0 && len(b) > 0 {
		if b[0] != ' ' {
			d.stripLead = 0
			break
		}
		b = b[1:]
		d.stripLead--
	}
	return b
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
// complete yet wait for the next id, and a character is returned with the
// id that completes it, also inside a run of <0xXX> tokens (byte
// fallback). What it returns adds up to what Decode returns for the same
// ids, but for a run of <0xXX> tokens broken by an invalid byte after some
// of its characters were returned (see showRun).
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
	s.d.run, s.d.shown, s.d.broken = s.d.run[:0], 0, false
}

// Add decodes id and returns the text that is now complete (often "").
// Bytes that can never form a valid character come out as U+FFFD, as in
// Decode.
func (s *StreamDecoder) Add(id int) string {
	s.pending = s.p.decodeOne(s.pending, &s.d, id, s.skipSpecial)
	if len(s.d.run) > 0 {
		s.pending = s.d.showRun(s.pending)
	}
	return s.take(false)
}

// Flush returns what is left, an unfinished character as U+FFFD (one per
// <0xXX> token of it).
func (s *StreamDecoder) Flush() string { return s.take(true) }

// take returns the pending text, but for an unfinished character at its
// end unless all. Cutting before a character's first byte cuts where
// appendLossy would, so the pieces add up to Decode's text.
func (s *StreamDecoder) take(all bool) string {
	n := len(s.pending)
	if all {
		s.pending = s.d.endRun(s.pending)
		n = len(s.pending)
	} else {
		n -= partialTail(s.pending)
	}
	out := string(appendLossy(nil, s.pending[:n]))
	s.pending = s.pending[:copy(s.pending, s.pending[n:])]
	return out
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
