package gpt2

import (
	"fmt"
	"strings"

	"github.com/loftml/loft/model/internal/ckpt"
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/tensor"
)

// Layer is one GPT-2 block.
type Layer struct {
	LN1    nn.LayerNorm   // ln_1
	CAttn  nn.LinearLayer // attn.c_attn (3C, C): output rows q | k | v
	CProj  nn.LinearLayer // attn.c_proj (C, C)
	LN2    nn.LayerNorm   // ln_2
	FC     nn.LinearLayer // mlp.c_fc (I, C)
	FCProj nn.LinearLayer // mlp.c_proj (C, I)
}

// Model is GPT-2 with its weights. Not safe for concurrent use.
type Model struct {
	Config Config
	WTE    nn.Embedding // (V, C)
	WPE    nn.Embedding // (P, C)
	Layers []Layer
	LNF    nn.LayerNorm
	LMHead nn.LinearLayer // lm_head (V, C): W is WTE.W when tied, its own when not

	attn nn.Attention
	inf  Acts
	scr  []float32
	pos  []int32
	tr   *trainState // ForwardLoss/Backward state (backward.go)
}

// New returns a model of config c with zero weights.
func New(c Config) (*Model, error) {
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	C, I := c.NEmbd, c.Intermediate()
	eps := float32(c.LNEps)
	ln := func() nn.LayerNorm { return nn.LayerNorm{W: make([]float32, C), B: make([]float32, C), Eps: eps} }
	conv := func(in, out int) nn.LinearLayer {
		l := nn.NewLinear(in, out, true)
		l.FanInFanOut = true
		return l
	}
	m := &Model{
		Config: c,
		WTE:    nn.Embedding{V: c.VocabSize, C: C, W: tensor.Weights(c.VocabSize * C)},
		WPE:    nn.Embedding{V: c.NPositions, C: C, W: tensor.Weights(c.NPositions * C)},
		LNF:    ln(),
		attn:   nn.Attention{NH: c.NHead, NKV: c.NHead, HS: c.HeadDim()},
	}
	for range c.NLayer {
		m.Layers = append(m.Layers, Layer{LN1: ln(), CAttn: conv(C, 3*C), CProj: conv(C, C), LN2: ln(), FC: conv(C, I), FCProj: conv(I, C)})
	}
	head := &nn.Linear{In: C, Out: c.VocabSize, W: m.WTE.W}
	if !c.Tied() {
		head.W = tensor.Weights(c.VocabSize * C)
	}
	m.LMHead = head
	return m, nil
}

// Slots returns the linear layers under their PEFT names, which keep the
// "transformer." prefix of GPT2LMHeadModel's module tree even when the
// checkpoint's tensor names omit it.
func (m *Model) Slots() []nn.Slot {
	var s []nn.Slot
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("transformer.h.%d.", i)
		s = append(s,
			nn.Slot{Name: p + "attn.c_attn", Layer: &l.CAttn},
			nn.Slot{Name: p + "attn.c_proj", Layer: &l.CProj},
			nn.Slot{Name: p + "mlp.c_fc", Layer: &l.FC},
			nn.Slot{Name: p + "mlp.c_proj", Layer: &l.FCProj},
		)
	}
	return append(s, nn.Slot{Name: "lm_head", Layer: &m.LMHead, Head: true})
}

// NumParams counts parameters once, as transformers' num_parameters: a
// tied head is wte and adds nothing, an untied one adds its (V, C) weight.
func (m *Model) NumParams() int {
	n := len(m.WTE.W) + len(m.WPE.W) + 2*len(m.LNF.W)
	for i := range m.Layers {
		l := &m.Layers[i]
		n += 4 * len(l.LN1.W)
		for _, p := range []nn.LinearLayer{l.CAttn, l.CProj, l.FC, l.FCProj} {
			n += p.Base().NumParams()
		}
	}
	if !m.Config.Tied() {
		n += m.LMHead.Base().NumParams()
	}
	return n
}

// weight is one row of GPT-2's weight table: HF name (without the
// "transformer." prefix), GGUF name, destination, model shape, whether
// the HF tensor is a Conv1D weight stored (In, Out), and whether it lies
// outside the transformer module (lm_head), so never takes the prefix.
type weight struct {
	hf, gguf string
	dst      *[]float32
	shape    []int
	conv     bool
	top      bool
}

func (m *Model) table() []weight {
	c := &m.Config
	C := c.NEmbd
	t := []weight{
		{"wte.weight", "token_embd.weight", &m.WTE.W, []int{c.VocabSize, C}, false, false},
		{"wpe.weight", "position_embd.weight", &m.WPE.W, []int{c.NPositions, C}, false, false},
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		hf := func(s string) string { return fmt.Sprintf("h.%d.%s", i, s) }
		gg := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		norm := func(h, g string, n *nn.LayerNorm) {
			t = append(t, weight{hf(h + ".weight"), gg(g + ".weight"), &n.W, []int{C}, false, false},
				weight{hf(h + ".bias"), gg(g + ".bias"), &n.B, []int{C}, false, false})
		}
		lin := func(h, g string, p nn.LinearLayer) {
			b := p.Base()
			t = append(t, weight{hf(h + ".weight"), gg(g + ".weight"), &b.W, []int{b.Out, b.In}, true, false},
				weight{hf(h + ".bias"), gg(g + ".bias"), &b.B, []int{b.Out}, false, false})
		}
		norm("ln_1", "attn_norm", &l.LN1)
		lin("attn.c_attn", "attn_qkv", l.CAttn)
		lin("attn.c_proj", "attn_output", l.CProj)
		norm("ln_2", "ffn_norm", &l.LN2)
		lin("mlp.c_fc", "ffn_up", l.FC)
		lin("mlp.c_proj", "ffn_down", l.FCProj)
	}
	t = append(t, weight{"ln_f.weight", "output_norm.weight", &m.LNF.W, []int{C}, false, false},
		weight{"ln_f.bias", "output_norm.bias", &m.LNF.B, []int{C}, false, false})
	if !c.Tied() {
		// An nn.Linear (V, C) in HF, not a Conv1D: stored as used.
		h := m.LMHead.Base()
		t = append(t, weight{"lm_head.weight", "output.weight", &h.W, []int{c.VocabSize, C}, false, true})
	}
	return t
}

// Load fills the weights from src: a Hugging Face checkpoint, whose names
// may or may not carry the "transformer." prefix, or a GGUF file (weights
// already (Out, In)). An untied head (tie_word_embeddings false) is read
// from lm_head.weight (GGUF: output.weight), which must be there; a tied
// one is wte, and a saved copy of it is ignored.
func (m *Model) Load(src ckpt.Source) error {
	prefix := ""
	if _, ok := src.Shape("transformer.wte.weight"); ok {
		prefix = "transformer."
	}
	var entries []ckpt.Entry
	for _, w := range m.table() {
		e := ckpt.Entry{Name: prefix + w.hf, Dst: w.dst, Shape: w.shape, Transpose: w.conv}
		if w.top {
			e.Name = w.hf
		}
		if src.GGUF() {
			e.Name, e.Transpose = w.gguf, false
		}
		entries = append(entries, e)
	}
	tied := m.Config.Tied()
	ignore := func(n string) bool {
		n = strings.TrimPrefix(n, "transformer.")
		// Causal-mask buffers of older checkpoints, and a saved copy of
		// the tied head (GGUF: the converter's duplicate).
		return strings.HasSuffix(n, ".attn.bias") || strings.HasSuffix(n, ".attn.masked_bias") ||
			(tied && (n == "lm_head.weight" || n == "output.weight"))
	}
	if err := ckpt.Fill(src, entries, ignore); err != nil {
		return err
	}
	if tied {
		m.LMHead.Base().W = m.WTE.W
	}
	return nil
}

// Randomize fills the weights from a seeded generator as the PyTorch
// benchmark does: matrices and embeddings N(0, 0.02), biases zero,
// LayerNorm weights one.
func (m *Model) Randomize(seed uint64) {
	r := ckpt.NewRandomizer(seed)
	for _, w := range m.table() {
		r.Fill(w.hf, *w.dst, len(w.shape))
	}
}
