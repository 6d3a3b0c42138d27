package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/nn"
)

// TextDecoder turns the ids of one generated stream into text as they
// arrive, holding back bytes of a character that is not complete yet.
// (*tokenizer.StreamDecoder implements it; see NewTextDecoder.)
type TextDecoder interface {
	// Add decodes id and returns the text now complete (often "").
	Add(id int) string
	// Flush returns whatever is still held back.
	Flush() string
}

// Request is one prompt to continue.
type Request struct {
	// Prompt holds the token ids to continue, BOS included when the model
	// wants one; it must not be empty.
	Prompt []int
	// Sampling picks the tokens; each request has its own random stream.
	Sampling Sampling
	// MaxNewTokens is the most tokens to generate (at least 1).
	MaxNewTokens int
	// Stop lists strings that end the generation when they appear in the
	// text; neither the stop string nor anything after it is returned or
	// streamed.
	Stop []string
}

// StopReason tells why a row stopped.
type StopReason int

// Reasons a row stops.
const (
	StopMaxTokens StopReason = iota // MaxNewTokens generated
	StopEOS                         // an end-of-sequence id was sampled
	StopString                      // a stop string appeared in the text
	StopContext                     // the model's context is full
)

// String returns the reason in words.
func (r StopReason) String() string {
	switch r {
	case StopMaxTokens:
		return "max new tokens"
	case StopEOS:
		return "end of sequence"
	case StopString:
		return "stop string"
	case StopContext:
		return "context limit"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// Result is what one request generated.
type Result struct {
	// Tokens are the generated ids, without the EOS id that ended them.
	// After a stop string they run to the token that completed it.
	Tokens []int
	// Text is the decoded text, cut before the stop string; "" when
	// Options.NewDecoder is nil.
	Text string
	// Reason tells why generation stopped.
	Reason StopReason
	// Stop is the stop string found, when Reason is StopString.
	Stop string
}

// Stats measures a Generate call.
type Stats struct {
	PromptTokens int           // prompt tokens run through the model, all rows
	CachedTokens int           // prompt tokens reused from a Session's cache
	Prefill      time.Duration // time to run the prompts and pick the first tokens
	DecodeTokens int           // tokens run through the model one step at a time, all rows
	Decode       time.Duration // time of those steps, sampling included
	Generated    int           // tokens generated, all rows, EOS included
}

// PrefillRate returns prompt tokens per second.
func (s Stats) PrefillRate() float64 { return rate(s.PromptTokens, s.Prefill) }

// DecodeRate returns decoded tokens per second.
func (s Stats) DecodeRate() float64 { return rate(s.DecodeTokens, s.Decode) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Options are the settings of Generate shared by all requests.
type Options struct {
	// EOS lists the ids that end a row (generation_config's eos_token_id,
	// a chat template's end-of-turn token).
	EOS []int
	// NewDecoder returns a fresh decoder for one row's text. It is needed
	// for Text, Stream and stop strings.
	NewDecoder func() TextDecoder
	// Stream, when set, receives each row's text as it becomes final; an
	// error it returns stops generation and is returned by Generate.
	Stream func(row int, text string) error
}

// Output is the result of Generate.
type Output struct {
	Rows  []Result // one per request, in order
	Stats Stats
}

// row is the state of one request while it runs.
type row struct {
	index   int // in the requests
	req     Request
	sampler *Sampler
	history []int // prompt and generated ids, for the repetition penalty
	res     Result
	done    bool

	dec     TextDecoder
	text    []byte // decoded so far, cut at a stop string
	emitted int    // bytes of text already streamed
	maxStop int    // length of the longest stop string
}

// Generate continues each request's prompt with lm, all rows in one KV
// cache and decoded together, and returns the generated tokens and text.
// A row's output does not depend on the other rows: it equals generating
// that request alone. It checks every request before any work: an empty
// prompt, an id out of the vocabulary, a prompt longer than the context,
// or a bad setting is an error. Generation reaching the context limit
// stops that row with StopContext.
func Generate(ctx context.Context, lm model.CausalLM, reqs []Request, opts Options) (*Output, error) {
	g, maxLen, err := newRun(ctx, lm, reqs, opts)
	if err != nil {
		return nil, err
	}
	g.cache = lm.NewCache(len(reqs), maxLen)
	if err := g.prefill(); err != nil {
		return nil, err
	}
	if err := g.decode(); err != nil {
		return nil, err
	}
	return g.output(), nil
}

// newRun checks the requests and returns their run, with the cache
// positions a row may need.
func newRun(ctx context.Context, lm model.CausalLM, reqs []Request, opts Options) (*run, int, error) {
	if len(reqs) == 0 {
		return nil, 0, errors.New("generate: no prompts")
	}
	V, ctxLen := lm.VocabSize(), lm.ContextLength()
	for _, id := range opts.EOS {
		if id < 0 || id >= V {
			return nil, 0, fmt.Errorf("generate: EOS id %d out of range: the vocabulary has %d tokens", id, V)
		}
	}
	rows := make([]*row, len(reqs))
	maxLen := 0 // cache positions a row may need
	for i, r := range reqs {
		where := ""
		if len(reqs) > 1 {
			where = fmt.Sprintf(" (prompt %d)", i)
		}
		switch {
		case len(r.Prompt) == 0:
			return nil, 0, fmt.Errorf("generate: empty prompt%s: it needs at least one token, such as BOS", where)
		case len(r.Prompt) > ctxLen:
			return nil, 0, fmt.Errorf("generate: the prompt%s has %d tokens, more than the model's context length of %d", where, len(r.Prompt), ctxLen)
		case r.MaxNewTokens < 1:
			return nil, 0, fmt.Errorf("generate: max new tokens must be at least 1, got %d%s", r.MaxNewTokens, where)
		}
		for j, id := range r.Prompt {
			if id < 0 || id >= V {
				return nil, 0, fmt.Errorf("generate: prompt%s token %d is id %d, out of range: the vocabulary has %d tokens", where, j, id, V)
			}
		}
		for _, s := range r.Stop {
			if s == "" {
				return nil, 0, fmt.Errorf("generate: empty stop string%s", where)
			}
		}
		if len(r.Stop) > 0 && opts.NewDecoder == nil {
			return nil, 0, errors.New("generate: stop strings need a text decoder (Options.NewDecoder)")
		}
		s, err := NewSampler(r.Sampling)
		if err != nil {
			return nil, 0, fmt.Errorf("generate: %w%s", err, where)
		}
		ro := &row{index: i, req: r, sampler: s, history: slices.Clone(r.Prompt)}
		for _, st := range r.Stop {
			ro.maxStop = max(ro.maxStop, len(st))
		}
		if opts.NewDecoder != nil {
			ro.dec = opts.NewDecoder()
		}
		rows[i] = ro
		// The last generated token is never fed back, so a row needs at
		// most len(prompt) + max new - 1 positions.
		maxLen = max(maxLen, min(ctxLen, len(r.Prompt)+min(r.MaxNewTokens, ctxLen)-1))
	}
	g := &run{ctx: ctx, lm: lm, opts: opts, rows: rows, V: V, ctxLen: ctxLen, eos: slices.Clone(opts.EOS)}
	return g, maxLen, nil
}

// output collects the results.
func (g *run) output() *Output {
	out := &Output{Rows: make([]Result, len(g.rows)), Stats: g.stats}
	for i, r := range g.rows {
		out.Rows[i] = r.res
	}
	return out
}

// run is one Generate call in progress.
type run struct {
	ctx    context.Context
	lm     model.CausalLM
	opts   Options
	rows   []*row
	eos    []int
	V      int
	ctxLen int

	cache  *nn.KVCache // active rows, in the order of active
	active []int       // index in rows of each cache row
	stats  Stats
}

// prefill runs every prompt into g.cache and picks each row's first
// token. A row may already hold the first cache.Len[b] prompt tokens (a
// Session's reused prefix); the rest run now. Rows with the same number of
// tokens to run go as one batch; otherwise each runs alone in a one-row
// cache and its keys and values are copied into its row of g.cache.
func (g *run) prefill() error {
	start := time.Now()
	c := g.cache
	B := len(g.rows)
	todo := func(b int) []int { return g.rows[b].req.Prompt[c.Len[b]:] }
	T := len(todo(0))
	same := true
	for b := range g.rows {
		same = same && len(todo(b)) == T
		g.stats.PromptTokens += len(todo(b))
		g.stats.CachedTokens += c.Len[b]
	}
	logits := make([]float32, B*g.V) // (B, V)
	if same {
		ids := make([]int32, 0, B*T) // (B, T)
		for b := range g.rows {
			for _, id := range todo(b) {
				ids = append(ids, int32(id))
			}
		}
		if err := g.lm.Forward(c, ids, B, T, logits, true); err != nil {
			return fmt.Errorf("generate: prefill: %w", err)
		}
	} else {
		one := g.lm.NewCache(1, c.MaxLen)
		for b := range g.rows {
			if err := g.ctx.Err(); err != nil {
				return err
			}
			one.CopyRow(0, c, b)
			ids := make([]int32, 0, len(todo(b)))
			for _, id := range todo(b) {
				ids = append(ids, int32(id))
			}
			if err := g.lm.Forward(one, ids, 1, len(ids), logits[b*g.V:(b+1)*g.V], true); err != nil {
				return fmt.Errorf("generate: prefill: %w", err)
			}
			c.CopyRow(b, one, 0)
		}
	}
	g.active = make([]int, B)
	for b := range g.active {
		g.active[b] = b
	}
	for b, r := range g.rows {
		if err := g.accept(r, r.sampler.Sample(logits[b*g.V:(b+1)*g.V], r.history), c.Len[b]); err != nil {
			return err
		}
	}
	g.stats.Prefill = time.Since(start)
	return nil
}

// decode feeds each active row its last token, one position per step, until
// every row is done.
func (g *run) decode() error {
	start := time.Now()
	defer func() { g.stats.Decode = time.Since(start) }()
	var ids []int32
	var logits []float32
	for {
		g.compact()
		B := len(g.active)
		if B == 0 {
			return nil
		}
		if err := g.ctx.Err(); err != nil {
			return err
		}
		ids = ids[:0]
		for _, i := range g.active {
			ids = append(ids, int32(g.rows[i].res.Tokens[len(g.rows[i].res.Tokens)-1]))
		}
		logits = slices.Grow(logits[:0], B*g.V)[:B*g.V] // (B, V)
		if err := g.lm.Forward(g.cache, ids, B, 1, logits, true); err != nil {
			return fmt.Errorf("generate: decode: %w", err)
		}
		g.stats.DecodeTokens += B
		for b, i := range g.active {
			r := g.rows[i]
			if err := g.accept(r, r.sampler.Sample(logits[b*g.V:(b+1)*g.V], r.history), g.cache.Len[b]); err != nil {
				return err
			}
		}
	}
}

// accept takes row r's next token id; filled is the row's cache length.
// It marks the row done when id ends it or the row cannot go on.
func (g *run) accept(r *row, id, filled int) error {
	g.stats.Generated++
	if slices.Contains(g.eos, id) {
		return g.end(r, StopEOS)
	}
	r.res.Tokens = append(r.res.Tokens, id)
	r.history = append(r.history, id)
	if r.dec != nil {
		stopped, err := g.addText(r, r.dec.Add(id))
		if err != nil {
			return err
		}
		if stopped {
			return g.end(r, StopString)
		}
	}
	switch {
	case len(r.res.Tokens) >= r.req.MaxNewTokens:
		return g.end(r, StopMaxTokens)
	case filled+1 > g.ctxLen: // no room to run id through the model
		return g.end(r, StopContext)
	}
	return nil
}

// addText appends decoded text to row r and streams what can no longer
// turn into a stop string. When the text completes a stop string, it is
// cut before it and addText reports stopped.
func (g *run) addText(r *row, s string) (stopped bool, err error) {
	if s == "" {
		return false, nil
	}
	prev := len(r.text)
	r.text = append(r.text, s...)
	if r.maxStop > 0 {
		// A stop string not found before must end in the new text. The
		// one that completes first wins (the earliest end; of those, the
		// longest), as if the text had come one byte at a time, so the
		// result does not depend on how tokens cut the text.
		from := max(0, prev-r.maxStop+1)
		at, end, which := -1, 0, ""
		for _, st := range r.req.Stop {
			i := strings.Index(string(r.text[from:]), st)
			if i < 0 {
				continue
			}
			if e := from + i + len(st); at < 0 || e < end || e == end && from+i < at {
				at, end, which = from+i, e, st
			}
		}
		if at >= 0 {
			r.text = r.text[:at]
			r.res.Stop = which
			return true, g.emit(r, len(r.text))
		}
	}
	return false, g.emit(r, len(r.text)-holdBack(r.text, r.req.Stop))
}

// holdBack returns the length of the longest end of text that begins some
// stop string: text that may still become a stop string is not streamed.
func holdBack(text []byte, stops []string) int {
	hold := 0
	for _, st := range stops {
		for k := min(len(st)-1, len(text)); k > hold; k-- {
			if string(text[len(text)-k:]) == st[:k] {
				hold = k
				break
			}
		}
	}
	return hold
}

// emit streams row r's text up to byte end.
func (g *run) emit(r *row, end int) error {
	if end <= r.emitted {
		return nil
	}
	chunk := string(r.text[r.emitted:end])
	r.emitted = end
	if g.opts.Stream == nil {
		return nil
	}
	return g.opts.Stream(r.index, chunk)
}

// end marks row r done for why. Unless a stop string ended it, the
// decoder's held-back bytes come first (a stop string may still complete
// in them, and then ends the row instead) and all text left is streamed.
func (g *run) end(r *row, why StopReason) error {
	if why != StopString && r.dec != nil {
		stopped, err := g.addText(r, r.dec.Flush())
		if err != nil {
			return err
		}
		if stopped {
			why = StopString
		} else if err := g.emit(r, len(r.text)); err != nil {
			return err
		}
	}
	r.done = true
	r.res.Reason = why
	r.res.Text = string(r.text)
	return nil
}

// compact drops the rows that are done from the cache: the rows left move
// up, keeping their order, and the cache is viewed with fewer rows.
func (g *run) compact() {
	c := g.cache
	keep := 0
	for b, i := range g.active {
		if g.rows[i].done {
			continue
		}
		if keep != b {
			c.CopyRow(keep, c, b)
		}
		g.active[keep] = i
		keep++
	}
	if keep == len(g.active) {
		return
	}
	g.active = g.active[:keep]
	g.cache = c.Rows(keep)
}
