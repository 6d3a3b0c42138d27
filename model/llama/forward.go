package llama

import (
	"fmt"
	"slices"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// LayerActs holds one layer's activations for B·T rows, as a backward pass
// needs them (llm.c's ActivationTensors). Sizes: C hidden, Q = NH·HS,
// KV = NKV·HS, I intermediate.
type LayerActs struct {
	N1, Rstd1 []float32 // input_layernorm out (BT, C), rstd (BT)
	QPre      []float32 // (BT, Q) q_proj output before q_norm (qwen3 only)
	KPre      []float32 // (BT, KV) k_proj output before k_norm (qwen3 only)
	QRstd     []float32 // (BT·NH) q_norm rstd (qwen3 only)
	KRstd     []float32 // (BT·NKV) k_norm rstd (qwen3 only)
	Q         []float32 // (BT, Q) after RoPE
	K, V      []float32 // (BT, KV), K after RoPE
	Probs     []float32 // (B, NH, T, T) attention probabilities (training only)
	Att       []float32 // (BT, Q) attention output, o_proj input
	AttO      []float32 // (BT, C) o_proj output
	Res1      []float32 // (BT, C) x + attention
	N2, Rstd2 []float32 // post_attention_layernorm out (BT, C), rstd (BT)
	Gate, Up  []float32 // (BT, I)
	Act       []float32 // (BT, I) silu(gate)·up, down_proj input
	Down      []float32 // (BT, C)
}

// Acts holds a forward pass's activations for one (B, T) shape: every
// layer's for training, one shared set for inference.
type Acts struct {
	B, T   int
	X      [][]float32 // residual stream: X[l] (BT, C) is layer l's input; training L+1, inference 2
	Layers []LayerActs // training L, inference 1
	NF     []float32   // (BT, C) final norm output
	RstdF  []float32   // (BT)
}

// NewActs allocates activations for B rows of T positions, for training
// (every layer saved, with attention probabilities) or not.
func (m *Model) NewActs(B, T int, training bool) *Acts {
	a := &Acts{}
	m.growActs(a, B, T, training)
	return a
}

func (m *Model) growActs(a *Acts, B, T int, training bool) {
	c := &m.Config
	nl, nx := 1, 2
	if training {
		nl, nx = c.NumLayers, c.NumLayers+1
	}
	m.growActsN(a, B, T, nl, nx, training)
}

// growActsN sizes a for nl saved layers (1: one set reused by every layer)
// and nx residual-stream buffers, with attention probabilities when probs.
func (m *Model) growActsN(a *Acts, B, T, nl, nx int, probs bool) {
	c := &m.Config
	N := B * T
	C, Q, KV, I := c.HiddenSize, c.NumHeads*c.HeadDim, c.KVDim(), c.IntermediateSize
	a.B, a.T = B, T
	g := nn.Grow
	a.X = nn.GrowEach(a.X, nx, N*C)
	a.Layers = nn.Resize(a.Layers, nl)
	for i := range a.Layers {
		l := &a.Layers[i]
		l.N1, l.Rstd1 = g(l.N1, N*C), g(l.Rstd1, N)
		if c.QKNorm {
			l.QPre, l.KPre = g(l.QPre, N*Q), g(l.KPre, N*KV)
			l.QRstd, l.KRstd = g(l.QRstd, N*c.NumHeads), g(l.KRstd, N*c.NumKVHeads)
		}
		l.Q, l.K, l.V = g(l.Q, N*Q), g(l.K, N*KV), g(l.V, N*KV)
		if probs {
			l.Probs = g(l.Probs, B*c.NumHeads*T*T)
		}
		l.Att, l.AttO, l.Res1 = g(l.Att, N*Q), g(l.AttO, N*C), g(l.Res1, N*C)
		l.N2, l.Rstd2 = g(l.N2, N*C), g(l.Rstd2, N)
		l.Gate, l.Up, l.Act, l.Down = g(l.Gate, N*I), g(l.Up, N*I), g(l.Act, N*I), g(l.Down, N*C)
	}
	a.NF, a.RstdF = g(a.NF, N*C), g(a.RstdF, N)
}

// layerForward runs layer li on x (BT, C) into out (BT, C), saving its
// activations in a. With a cache, keys and values go to the cache and
// queries attend over it; without, attention runs over the T positions
// (causal) and saves its probabilities.
func (m *Model) layerForward(li int, a *LayerActs, out, x []float32, B, T int, pos []int32, cache *nn.KVCache) {
	c := &m.Config
	L := &m.Layers[li]
	N := B * T
	NH, NKV := c.NumHeads, c.NumKVHeads

	L.AttnNorm.Forward(a.N1, a.Rstd1, x, N)
	if L.QNorm != nil {
		nn.ForwardShared(a.N1, N, [][]float32{a.QPre, a.KPre, a.V}, L.Q, L.K, L.V)
		L.QNorm.Forward(a.Q, a.QRstd, a.QPre, N*NH)
		L.KNorm.Forward(a.K, a.KRstd, a.KPre, N*NKV)
	} else {
		nn.ForwardShared(a.N1, N, [][]float32{a.Q, a.K, a.V}, L.Q, L.K, L.V)
	}
	cs := m.angles(pos)
	kernels.RoPEForward(a.Q, a.Q, cs, N, NH, m.rope)
	kernels.RoPEForward(a.K, a.K, cs, N, NKV, m.rope)
	if cache != nil {
		m.attn.ForwardCached(a.Att, m.scr, a.Q, a.K, a.V, B, T, cache, li)
	} else {
		m.attn.Forward(a.Att, a.Probs, a.Q, a.K, a.V, B, T, true, nil)
	}
	L.O.Forward(a.AttO, a.Att, N)
	kernels.AddForward(a.Res1, x, a.AttO, N*c.HiddenSize)

	L.MLPNorm.Forward(a.N2, a.Rstd2, a.Res1, N)
	nn.ForwardShared(a.N2, N, [][]float32{a.Gate, a.Up}, L.Gate, L.Up)
	kernels.SwiGLUForward(a.Act, a.Gate, a.Up, N*c.IntermediateSize)
	L.Down.Forward(a.Down, a.Act, N)
	kernels.AddForward(out, a.Res1, a.Down, N*c.HiddenSize)
}

// angles returns the rotary table (kernels.RoPE.Angles) for positions pos,
// recomputing it only when they differ from the last call's: every layer
// of a forward pass, and its backward pass, rotate the same positions.
func (m *Model) angles(pos []int32) []float32 {
	if !slices.Equal(pos, m.ropePos) || m.ropeCS == nil {
		m.ropeCS = m.rope.Angles(m.ropeCS, pos)
		m.ropePos = append(m.ropePos[:0], pos...)
	}
	return m.ropeCS
}

// ForwardTrain runs whole sequences ids (B, T) at positions 0..T-1 without
// a cache, saving every activation in a (from NewActs(B, T, true)), and
// writes logits (B, T, V). Padding must be on the right: causal attention
// keeps real positions from seeing it.
func (m *Model) ForwardTrain(a *Acts, ids []int32, B, T int, logits []float32) error {
	if a.B != B || a.T != T || len(a.Layers) != m.Config.NumLayers {
		return fmt.Errorf("llama: activations are for (B=%d, T=%d, %d layers), not (B=%d, T=%d) training", a.B, a.T, len(a.Layers), B, T)
	}
	if err := m.checkInput(ids, B, T, logits, B*T); err != nil {
		return err
	}
	m.pos = nn.Positions(m.pos, B, T)
	m.forwardHidden(a, ids, m.pos, B, T)
	m.LMHead.Forward(logits, a.NF, B*T)
	return nil
}

// forwardHidden runs the embedding, every layer and the final norm over
// ids (B, T) at positions pos (B·T), saving activations in a.
func (m *Model) forwardHidden(a *Acts, ids, pos []int32, B, T int) {
	N := B * T
	m.Embed.Forward(a.X[0], ids, N)
	for l := range m.Layers {
		m.layerForward(l, a.layer(l), a.X[l+1], a.X[l], B, T, pos, nil)
	}
	m.Norm.Forward(a.NF, a.RstdF, a.X[len(m.Layers)], N)
}

func (m *Model) checkInput(ids []int32, B, T int, logits []float32, rows int) error {
	if B <= 0 || T <= 0 || len(ids) != B*T {
		return fmt.Errorf("llama: %d ids for B=%d, T=%d", len(ids), B, T)
	}
	if len(logits) < rows*m.Config.VocabSize {
		return fmt.Errorf("llama: logits hold %d values, need %d (%d rows of %d)", len(logits), rows*m.Config.VocabSize, rows, m.Config.VocabSize)
	}
	return nn.CheckIDs(ids, m.Config.VocabSize)
}

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// ContextLength is max_position_embeddings.
func (m *Model) ContextLength() int { return m.Config.MaxPositions }

// NewCache returns an empty KV cache for B rows of up to maxLen positions.
func (m *Model) NewCache(B, maxLen int) *nn.KVCache {
	return nn.NewKVCache(m.Config.NumLayers, B, maxLen, m.Config.NumKVHeads, m.Config.HeadDim)
}

// Forward runs ids (B, T) after each row's cached positions, appends their
// keys and values to the cache and writes logits (B, T, V), or (B, V) for
// the last position only when lastOnly. On error nothing changes.
func (m *Model) Forward(cache *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error {
	rows := B * T
	if lastOnly {
		rows = B
	}
	if err := m.checkInput(ids, B, T, logits, rows); err != nil {
		return err
	}
	if cache == nil || cache.B != B || cache.Layers != m.Config.NumLayers || cache.Heads != m.Config.NumKVHeads || cache.HeadDim != m.Config.HeadDim {
		return fmt.Errorf("llama: the cache does not fit this model and batch of %d", B)
	}
	maxLen := 0
	for b := 0; b < B; b++ {
		if err := cache.Room(b, T); err != nil {
			return err
		}
		maxLen = max(maxLen, cache.Len[b])
	}
	N := B * T
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
	m.Embed.Forward(x, ids, N)
	for l := range m.Layers {
		m.layerForward(l, &a.Layers[0], y, x, B, T, m.pos, cache)
		x, y = y, x
	}
	for b := 0; b < B; b++ {
		cache.Len[b] += T
	}
	C := m.Config.HiddenSize
	if lastOnly {
		// Only the last position of each row reaches the head.
		for b := 0; b < B; b++ {
			copy(y[b*C:(b+1)*C], x[(b*T+T-1)*C:(b*T+T)*C])
		}
		x, N = y, B
	}
	m.Norm.Forward(a.NF, a.RstdF, x, N)
	m.LMHead.Forward(logits, a.NF, N)
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
