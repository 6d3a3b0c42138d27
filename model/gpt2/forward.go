package gpt2

import (
	"fmt"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// LayerActs holds one block's activations for B·T rows, as a backward pass
// needs them.
type LayerActs struct {
	LN1, Mean1, Rstd1 []float32 // ln_1 out (BT, C), mean, rstd (BT)
	QKV               []float32 // (BT, 3C) c_attn output (shared by all layers)
	Q, K, V           []float32 // (BT, C) each, split from QKV
	Probs             []float32 // (B, NH, T, T) (training only)
	Att               []float32 // (BT, C) attention output
	AttO              []float32 // (BT, C) attn.c_proj output (shared)
	Res1              []float32 // (BT, C)
	LN2, Mean2, Rstd2 []float32 // ln_2 out (BT, C), mean, rstd (BT)
	FC                []float32 // (BT, I) c_fc output (GELU input)
	Gelu              []float32 // (BT, I) (shared; backward recomputes it from FC)
	FCO               []float32 // (BT, C) mlp.c_proj output (shared)
}

// Acts holds a forward pass's activations for one (B, T) shape.
type Acts struct {
	B, T         int
	X            [][]float32 // residual stream, X[l] (BT, C) is block l's input
	Layers       []LayerActs
	LNF          []float32 // (BT, C)
	MeanF, RstdF []float32 // (BT)
}

// NewActs allocates activations for B rows of T positions; training keeps
// every block's and the attention probabilities.
func (m *Model) NewActs(B, T int, training bool) *Acts {
	a := &Acts{}
	m.growActs(a, B, T, training)
	return a
}

func (m *Model) growActs(a *Acts, B, T int, training bool) {
	c := &m.Config
	nl, nx := 1, 2
	if training {
		nl, nx = c.NLayer, c.NLayer+1
	}
	m.growActsN(a, B, T, nl, nx, training)
}

// growActsN sizes a for nl saved layers (1: one set reused by every layer)
// and nx residual-stream buffers, with attention probabilities when probs.
func (m *Model) growActsN(a *Acts, B, T, nl, nx int, probs bool) {
	c := &m.Config
	N, C, I := B*T, c.NEmbd, c.Intermediate()
	a.B, a.T = B, T
	g := nn.Grow
	a.X = nn.GrowEach(a.X, nx, N*C)
	a.Layers = nn.Resize(a.Layers, nl)
	// QKV (split into Q, K, V at once), AttO and FCO (added into the
	// residual stream at once) and Gelu (recomputed from FC in backward)
	// are not needed by backward: every layer shares layer 0's buffers,
	// about a quarter of a GPT-2 block's saved activations.
	l0 := &a.Layers[0]
	l0.QKV, l0.AttO, l0.FCO, l0.Gelu = g(l0.QKV, 3*N*C), g(l0.AttO, N*C), g(l0.FCO, N*C), g(l0.Gelu, N*I)
	for i := range a.Layers {
		l := &a.Layers[i]
		l.LN1, l.Mean1, l.Rstd1 = g(l.LN1, N*C), g(l.Mean1, N), g(l.Rstd1, N)
		l.QKV, l.Q, l.K, l.V = l0.QKV, g(l.Q, N*C), g(l.K, N*C), g(l.V, N*C)
		if probs {
			l.Probs = g(l.Probs, B*c.NHead*T*T)
		}
		l.Att, l.AttO, l.Res1 = g(l.Att, N*C), l0.AttO, g(l.Res1, N*C)
		l.LN2, l.Mean2, l.Rstd2 = g(l.LN2, N*C), g(l.Mean2, N), g(l.Rstd2, N)
		l.FC, l.Gelu, l.FCO = g(l.FC, N*I), l0.Gelu, l0.FCO
	}
	a.LNF, a.MeanF, a.RstdF = g(a.LNF, N*C), g(a.MeanF, N), g(a.RstdF, N)
}

func (m *Model) gelu(out, x []float32, n int) {
	if m.Config.Activation == "gelu" {
		kernels.GELUErfForward(out, x, n)
	} else {
		kernels.GELUTanhForward(out, x, n)
	}
}

// embed writes x (BT, C) = wte[ids] + wpe[pos].
func (m *Model) embed(x []float32, ids, pos []int32, N int) {
	C := m.Config.NEmbd
	m.WTE.Forward(x, ids, N)
	for i := 0; i < N; i++ {
		row, p := x[i*C:(i+1)*C], m.WPE.W[int(pos[i])*C:(int(pos[i])+1)*C]
		for j := range row {
			row[j] += p[j]
		}
	}
}

func (m *Model) layerForward(li int, a *LayerActs, out, x []float32, B, T int, cache *nn.KVCache) {
	c := &m.Config
	L := &m.Layers[li]
	N, C := B*T, c.NEmbd
	L.LN1.Forward(a.LN1, a.Mean1, a.Rstd1, x, N)
	L.CAttn.Forward(a.QKV, a.LN1, N)
	for i := 0; i < N; i++ {
		r := a.QKV[i*3*C : (i+1)*3*C]
		copy(a.Q[i*C:(i+1)*C], r[:C])
		copy(a.K[i*C:(i+1)*C], r[C:2*C])
		copy(a.V[i*C:(i+1)*C], r[2*C:])
	}
	if cache != nil {
		m.attn.ForwardCached(a.Att, m.scr, a.Q, a.K, a.V, B, T, cache, li)
	} else {
		m.attn.Forward(a.Att, a.Probs, a.Q, a.K, a.V, B, T, true, nil)
	}
	L.CProj.Forward(a.AttO, a.Att, N)
	kernels.AddForward(a.Res1, x, a.AttO, N*C)
	L.LN2.Forward(a.LN2, a.Mean2, a.Rstd2, a.Res1, N)
	L.FC.Forward(a.FC, a.LN2, N)
	m.gelu(a.Gelu, a.FC, N*c.Intermediate())
	L.FCProj.Forward(a.FCO, a.Gelu, N)
	kernels.AddForward(out, a.Res1, a.FCO, N*C)
}

func (m *Model) checkInput(ids []int32, B, T int, logits []float32, rows int) error {
	if B <= 0 || T <= 0 || len(ids) != B*T {
		return fmt.Errorf("gpt2: %d ids for B=%d, T=%d", len(ids), B, T)
	}
	if len(logits) < rows*m.Config.VocabSize {
		return fmt.Errorf("gpt2: logits hold %d values, need %d", len(logits), rows*m.Config.VocabSize)
	}
	return nn.CheckIDs(ids, m.Config.VocabSize)
}

// ForwardTrain runs ids (B, T) at positions 0..T-1 without a cache, saving
// every activation in a (from NewActs(B, T, true)); logits (B, T, V).
func (m *Model) ForwardTrain(a *Acts, ids []int32, B, T int, logits []float32) error {
	if a.B != B || a.T != T || len(a.Layers) != m.Config.NLayer {
		return fmt.Errorf("gpt2: activations are for (B=%d, T=%d, %d layers), not (B=%d, T=%d) training", a.B, a.T, len(a.Layers), B, T)
	}
	if err := m.checkInput(ids, B, T, logits, B*T); err != nil {
		return err
	}
	if T > m.Config.NPositions {
		return fmt.Errorf("gpt2: %d positions exceed n_positions %d", T, m.Config.NPositions)
	}
	m.pos = nn.Positions(m.pos, B, T)
	m.forwardHidden(a, ids, m.pos, B, T)
	m.LMHead.Forward(logits, a.LNF, B*T)
	return nil
}

// forwardHidden runs the embeddings, every block and ln_f over ids (B, T)
// at positions pos (B·T), saving activations in a.
func (m *Model) forwardHidden(a *Acts, ids, pos []int32, B, T int) {
	N := B * T
	m.embed(a.X[0], ids, pos, N)
	for l := range m.Layers {
		m.layerForward(l, a.layer(l), a.X[l+1], a.X[l], B, T, nil)
	}
	m.LNF.Forward(a.LNF, a.MeanF, a.RstdF, a.X[len(m.Layers)], N)
}

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// ContextLength is n_positions.
func (m *Model) ContextLength() int { return m.Config.NPositions }

// NewCache returns an empty KV cache for B rows of up to maxLen positions.
func (m *Model) NewCache(B, maxLen int) *nn.KVCache {
	return nn.NewKVCache(m.Config.NLayer, B, maxLen, m.Config.NHead, m.Config.HeadDim())
}

// Forward runs ids (B, T) after each row's cached positions (see
// model.CausalLM). Positions past n_positions are an error.
func (m *Model) Forward(cache *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error {
	rows := B * T
	if lastOnly {
		rows = B
	}
	if err := m.checkInput(ids, B, T, logits, rows); err != nil {
		return err
	}
	if cache == nil || cache.B != B || cache.Layers != m.Config.NLayer || cache.Heads != m.Config.NHead || cache.HeadDim != m.Config.HeadDim() {
		return fmt.Errorf("gpt2: the cache does not fit this model and batch of %d", B)
	}
	maxLen := 0
	for b := 0; b < B; b++ {
		if err := cache.Room(b, T); err != nil {
			return err
		}
		if cache.Len[b]+T > m.Config.NPositions {
			return fmt.Errorf("context length exceeded: %d tokens in the context plus %d new exceed GPT-2's %d positions", cache.Len[b], T, m.Config.NPositions)
		}
		maxLen = max(maxLen, cache.Len[b])
	}
	N, C := B*T, m.Config.NEmbd
	m.growActs(&m.inf, B, T, false)
	m.scr = nn.Grow(m.scr, m.attn.CachedScratch(T, maxLen))
	m.pos = nn.GrowInt32(m.pos, N)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			m.pos[b*T+t] = int32(cache.Len[b] + t)
		}
	}
	a := &m.inf
	x, y := a.X[0], a.X[1]
	m.embed(x, ids, m.pos, N)
	for l := range m.Layers {
		m.layerForward(l, &a.Layers[0], y, x, B, T, cache)
		x, y = y, x
	}
	for b := 0; b < B; b++ {
		cache.Len[b] += T
	}
	if lastOnly {
		for b := 0; b < B; b++ {
			copy(y[b*C:(b+1)*C], x[(b*T+T-1)*C:(b*T+T)*C])
		}
		x, N = y, B
	}
	m.LNF.Forward(a.LNF, a.MeanF, a.RstdF, x, N)
	m.LMHead.Forward(logits, a.LNF, N)
	return nil
}

// layer returns layer l's activations: its own set, or the one set shared
// by every layer (inference, gradient checkpointing).
func (a *Acts) layer(l int) *LayerActs {
	if len(a.Layers) == 1 {
		return &a.Layers[0]
	}
	return &a.Layers[l]
}
