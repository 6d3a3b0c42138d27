package generate

import (
	"context"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/nn"
)

// Session is one conversation with a model. It keeps its KV cache between
// calls, so a prompt that begins like the previous prompt and reply (a chat
// turn rendered again with one more message) runs only the tokens after
// the longest common prefix. It is not safe for concurrent use.
type Session struct {
	lm    model.CausalLM
	cache *nn.KVCache // one row; nil before the first call
	ids   []int       // the tokens whose keys and values the cache holds
}

// NewSession returns an empty session for lm.
func NewSession(lm model.CausalLM) *Session { return &Session{lm: lm} }

// Generate is Generate for one request, reusing the cached prefix of its
// prompt. The output equals a fresh Generate of the same request.
func (s *Session) Generate(ctx context.Context, req Request, opts Options) (*Output, error) {
	g, maxLen, err := newRun(ctx, s.lm, []Request{req}, opts)
	if err != nil {
		return nil, err
	}
	// Keep the common prefix, but always run at least the last prompt
	// token: its logits pick the first new token.
	keep := 0
	for keep < len(s.ids) && keep < len(req.Prompt)-1 && s.ids[keep] == req.Prompt[keep] {
		keep++
	}
	if s.cache == nil || s.cache.MaxLen < maxLen {
		// Grow by doubling (up to the context) so a long conversation
		// reallocates a logarithmic number of times.
		size := maxLen
		if s.cache != nil {
			size = max(maxLen, min(2*s.cache.MaxLen, s.lm.ContextLength()))
		}
		c := s.lm.NewCache(1, size)
		if s.cache != nil {
			s.cache.Len[0] = keep
			c.CopyRow(0, s.cache, 0)
		}
		s.cache = c
	}
	s.cache.Len[0] = keep
	s.ids = s.ids[:keep]
	g.cache = s.cache
	err = g.prefill()
	if err == nil {
		err = g.decode()
	}
	// The cache holds the prompt and the generated tokens fed back so far.
	s.ids = append(s.ids[:0], g.rows[0].history[:s.cache.Len[0]]...)
	if err != nil {
		return nil, err
	}
	return g.output(), nil
}

// Reset forgets the conversation, keeping the memory.
func (s *Session) Reset() {
	s.ids = s.ids[:0]
	if s.cache != nil {
		s.cache.Reset()
	}
}
