package llama

import (
	"fmt"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model/internal/ckpt"
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/tensor"
)

// Layer is one decoder block. Projections are LinearLayer slots (see Slots).
type Layer struct {
	AttnNorm   nn.RMSNorm // input_layernorm
	Q, K, V, O nn.LinearLayer
	QNorm      *nn.RMSNorm // q_norm, per head (qwen3); nil otherwise
	KNorm      *nn.RMSNorm // k_norm, per head (qwen3); nil otherwise
	MLPNorm    nn.RMSNorm  // post_attention_layernorm
	Gate, Up   nn.LinearLayer
	Down       nn.LinearLayer
}

// Model is a decoder with its weights. Forward (generation, with a KV
// cache) and ForwardTrain (whole sequences, activations saved) share the
// layer code. A Model is not safe for concurrent use: it owns its scratch
// buffers.
type Model struct {
	Config Config
	Embed  nn.Embedding // embed_tokens (V, C)
	Layers []Layer
	Norm   nn.RMSNorm     // final norm
	LMHead nn.LinearLayer // lm_head (V, C); its W is Embed.W when tied

	rope *kernels.RoPE
	// ropePos and ropeCS are the positions the rotary table was last
	// computed for and the table (angles).
	ropePos []int32
	ropeCS  []float32
	attn    nn.Attention
	inf     Acts      // inference buffers, grown to the largest (B, T) seen
	scr     []float32 // attention probabilities scratch for the cached path
	pos     []int32
	tr      *trainState // ForwardLoss/Backward state (backward.go)
}

// New returns a model of config c with zero weights (fill them by loading
// or with Randomize). c must have been normalised.
func New(c Config) (*Model, error) {
	rope, err := c.NewRoPE()
	if err != nil {
		return nil, err
	}
	C, HS := c.HiddenSize, c.HeadDim
	eps := float32(c.RMSNormEps)
	m := &Model{
		Config: c,
		Embed:  nn.Embedding{V: c.VocabSize, C: C, W: tensor.Weights(c.VocabSize * C)},
		Norm:   nn.RMSNorm{W: make([]float32, C), Eps: eps},
		rope:   rope,
		attn:   nn.Attention{NH: c.NumHeads, NKV: c.NumKVHeads, HS: HS},
	}
	qkvBias := c.QKVBias || c.AttentionBias
	for range c.NumLayers {
		l := Layer{
			AttnNorm: nn.RMSNorm{W: make([]float32, C), Eps: eps},
			Q:        nn.NewLinear(C, c.NumHeads*HS, qkvBias),
			K:        nn.NewLinear(C, c.KVDim(), qkvBias),
			V:        nn.NewLinear(C, c.KVDim(), qkvBias),
			O:        nn.NewLinear(c.NumHeads*HS, C, c.AttentionBias),
			MLPNorm:  nn.RMSNorm{W: make([]float32, C), Eps: eps},
			Gate:     nn.NewLinear(C, c.IntermediateSize, false),
			Up:       nn.NewLinear(C, c.IntermediateSize, false),
			Down:     nn.NewLinear(c.IntermediateSize, C, false),
		}
		if c.QKNorm {
			l.QNorm = &nn.RMSNorm{W: make([]float32, HS), Eps: eps}
			l.KNorm = &nn.RMSNorm{W: make([]float32, HS), Eps: eps}
		}
		m.Layers = append(m.Layers, l)
	}
	head := &nn.Linear{In: C, Out: c.VocabSize}
	if c.Tied() {
		head.W = m.Embed.W
	} else {
		head.W = tensor.Weights(c.VocabSize * C)
	}
	m.LMHead = head
	return m, nil
}

// Slots returns every linear layer under its Hugging Face/PEFT module path,
// in layer order (q, k, v, o, gate, up, down), then lm_head.
func (m *Model) Slots() []nn.Slot {
	var s []nn.Slot
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("model.layers.%d.", i)
		s = append(s,
			nn.Slot{Name: p + "self_attn.q_proj", Layer: &l.Q},
			nn.Slot{Name: p + "self_attn.k_proj", Layer: &l.K},
			nn.Slot{Name: p + "self_attn.v_proj", Layer: &l.V},
			nn.Slot{Name: p + "self_attn.o_proj", Layer: &l.O},
			nn.Slot{Name: p + "mlp.gate_proj", Layer: &l.Gate},
			nn.Slot{Name: p + "mlp.up_proj", Layer: &l.Up},
			nn.Slot{Name: p + "mlp.down_proj", Layer: &l.Down},
		)
	}
	return append(s, nn.Slot{Name: "lm_head", Layer: &m.LMHead, Head: true})
}

// NumParams counts the model's parameters once (a tied head is not counted
// twice), as transformers' num_parameters.
func (m *Model) NumParams() int {
	n := len(m.Embed.W) + len(m.Norm.W)
	for i := range m.Layers {
		l := &m.Layers[i]
		n += len(l.AttnNorm.W) + len(l.MLPNorm.W)
		if l.QNorm != nil {
			n += len(l.QNorm.W) + len(l.KNorm.W)
		}
		for _, p := range []nn.LinearLayer{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down} {
			n += p.Base().NumParams()
		}
	}
	if !m.Config.Tied() {
		n += m.LMHead.Base().NumParams()
	}
	return n
}

// weights lists every parameter with its checkpoint names: the one table
// of this architecture. hf and gguf are the names, dst the destination,
// shape the (Out, In) or (C) shape, qk the GGUF row permutation's head
// count (0: none).
type weight struct {
	hf, gguf string
	dst      *[]float32
	shape    []int
	qkHeads  int
	optional bool
}

func (m *Model) table() []weight {
	c := &m.Config
	C, HS := c.HiddenSize, c.HeadDim
	t := []weight{{hf: "model.embed_tokens.weight", gguf: "token_embd.weight", dst: &m.Embed.W, shape: []int{c.VocabSize, C}}}
	for i := range m.Layers {
		l := &m.Layers[i]
		hf := func(s string) string { return fmt.Sprintf("model.layers.%d.%s", i, s) }
		gg := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		lin := func(hfName, ggName string, p nn.LinearLayer, qk int) {
			b := p.Base()
			t = append(t, weight{hf: hf(hfName + ".weight"), gguf: gg(ggName + ".weight"), dst: &b.W, shape: []int{b.Out, b.In}, qkHeads: qk})
			if b.B != nil {
				t = append(t, weight{hf: hf(hfName + ".bias"), gguf: gg(ggName + ".bias"), dst: &b.B, shape: []int{b.Out}, qkHeads: qk})
			}
		}
		t = append(t, weight{hf: hf("input_layernorm.weight"), gguf: gg("attn_norm.weight"), dst: &l.AttnNorm.W, shape: []int{C}})
		lin("self_attn.q_proj", "attn_q", l.Q, c.NumHeads)
		lin("self_attn.k_proj", "attn_k", l.K, c.NumKVHeads)
		lin("self_attn.v_proj", "attn_v", l.V, 0)
		lin("self_attn.o_proj", "attn_output", l.O, 0)
		if l.QNorm != nil {
			t = append(t,
				weight{hf: hf("self_attn.q_norm.weight"), gguf: gg("attn_q_norm.weight"), dst: &l.QNorm.W, shape: []int{HS}},
				weight{hf: hf("self_attn.k_norm.weight"), gguf: gg("attn_k_norm.weight"), dst: &l.KNorm.W, shape: []int{HS}})
		}
		t = append(t, weight{hf: hf("post_attention_layernorm.weight"), gguf: gg("ffn_norm.weight"), dst: &l.MLPNorm.W, shape: []int{C}})
		lin("mlp.gate_proj", "ffn_gate", l.Gate, 0)
		lin("mlp.up_proj", "ffn_up", l.Up, 0)
		lin("mlp.down_proj", "ffn_down", l.Down, 0)
	}
	t = append(t, weight{hf: "model.norm.weight", gguf: "output_norm.weight", dst: &m.Norm.W, shape: []int{C}})
	if !c.Tied() {
		h := m.LMHead.Base()
		t = append(t, weight{hf: "lm_head.weight", gguf: "output.weight", dst: &h.W, shape: []int{c.VocabSize, C}})
	}
	return t
}

// Load fills the weights from src, a Hugging Face safetensors checkpoint or
// a GGUF file. permuteQK says whether the GGUF stores q/k rows permuted for
// interleaved RoPE (llama.cpp's converter does so for architecture
// "llama" only); they are permuted back to Hugging Face's order.
func (m *Model) Load(src ckpt.Source, permuteQK bool) error {
	var entries []ckpt.Entry
	for _, w := range m.table() {
		e := ckpt.Entry{Name: w.hf, Dst: w.dst, Shape: w.shape, Optional: w.optional}
		if src.GGUF() {
			e.Name = w.gguf
			if permuteQK && w.qkHeads > 0 {
				heads := w.qkHeads
				e.Fix = func(v []float32) { UnpermuteQK(v, heads, len(v)/w.shape[0]) }
			}
		}
		entries = append(entries, e)
	}
	ignore := func(name string) bool {
		// Rotary inverse frequencies are recomputed; GGUF's rope_freqs is
		// read into the config by the caller.
		return hasSuffix(name, "rotary_emb.inv_freq") || name == "rope_freqs.weight" ||
			(m.Config.Tied() && name == "lm_head.weight")
	}
	if err := ckpt.Fill(src, entries, ignore); err != nil {
		return err
	}
	if m.Config.Tied() {
		m.LMHead.Base().W = m.Embed.W
	}
	return nil
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// PermuteQK reorders the rows of a q or k weight (or bias) from Hugging
// Face's rotate_half order into GGUF's interleaved order, as llama.cpp's
// convert_hf_to_gguf.py does: within each head of 2·half rows, row i·half+j
// moves to row 2j+i. w (heads·2·half, cols).
func PermuteQK(w []float32, heads, cols int) { permuteQK(w, heads, cols, false) }

// UnpermuteQK is the inverse of PermuteQK: GGUF order back to Hugging Face's.
func UnpermuteQK(w []float32, heads, cols int) { permuteQK(w, heads, cols, true) }

func permuteQK(w []float32, heads, cols int, inverse bool) {
	rows := len(w) / cols
	hs := rows / heads
	half := hs / 2
	tmp := make([]float32, hs*cols)
	for h := 0; h < heads; h++ {
		blk := w[h*hs*cols : (h+1)*hs*cols]
		for i := 0; i < 2; i++ {
			for j := 0; j < half; j++ {
				hfRow, ggRow := i*half+j, 2*j+i
				src, dst := hfRow, ggRow
				if inverse {
					src, dst = ggRow, hfRow
				}
				copy(tmp[dst*cols:(dst+1)*cols], blk[src*cols:(src+1)*cols])
			}
		}
		copy(blk, tmp)
	}
}

// Randomize fills the weights from a seeded generator, as the PyTorch
// benchmark initialises them: matrices N(0, 0.02), biases zero, norm
// weights one.
func (m *Model) Randomize(seed uint64) {
	r := ckpt.NewRandomizer(seed)
	for _, w := range m.table() {
		r.Fill(w.hf, *w.dst, len(w.shape))
	}
}
