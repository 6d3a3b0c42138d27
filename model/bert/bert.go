package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model/internal/ckpt"
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/tensor"
)

// Config is BERT's config.json (HF field names).
type Config struct {
	HiddenSize       int     `json:"hidden_size"`
	NumLayers        int     `json:"num_hidden_layers"`
	NumHeads         int     `json:"num_attention_heads"`
	IntermediateSize int     `json:"intermediate_size"`
	HiddenAct        string  `json:"hidden_act"`
	MaxPositions     int     `json:"max_position_embeddings"`
	TypeVocabSize    int     `json:"type_vocab_size"`
	VocabSize        int     `json:"vocab_size"`
	LayerNormEps     float64 `json:"layer_norm_eps"`
	PositionEmbType  string  `json:"position_embedding_type"`
	// IsDecoder (PretrainedConfig's is_decoder, as BertLMHeadModel sets it)
	// makes transformers' BERT attend causally (get_extended_attention_mask
	// adds a causal mask); this encoder attends both ways, so it is refused.
	IsDecoder bool `json:"is_decoder"`
	// TieWordEmbeddings: nil means BertForMaskedLM's default, true (the
	// decoder's weight is the word embeddings); false gives the decoder its
	// own weight, cls.predictions.decoder.weight.
	TieWordEmbeddings *bool `json:"tie_word_embeddings"`
}

// ParseConfig reads a BERT config.json; file names it in errors.
func ParseConfig(data []byte, file string) (Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %v", file, jsonerr.Describe(data, err))
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("%s: %v", file, err)
	}
	return c, nil
}

// Normalize checks required fields and applies transformers' defaults.
func (c *Config) Normalize() error {
	var missing []string
	for _, f := range []struct {
		name string
		v    int
	}{{"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumLayers}, {"num_attention_heads", c.NumHeads},
		{"intermediate_size", c.IntermediateSize}, {"max_position_embeddings", c.MaxPositions}, {"vocab_size", c.VocabSize}} {
		if f.v <= 0 {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing or non-positive field(s): %s", strings.Join(missing, ", "))
	}
	if c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumHeads)
	}
	if c.TypeVocabSize < 0 {
		return fmt.Errorf("type_vocab_size %d is negative", c.TypeVocabSize)
	}
	if c.TypeVocabSize == 0 {
		c.TypeVocabSize = 2
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	switch c.HiddenAct {
	case "":
		c.HiddenAct = "gelu"
	case "gelu", "gelu_new", "gelu_pytorch_tanh":
	default:
		return fmt.Errorf("hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh)", c.HiddenAct)
	}
	if c.PositionEmbType != "" && c.PositionEmbType != "absolute" {
		return fmt.Errorf("position_embedding_type %q is not supported (absolute)", c.PositionEmbType)
	}
	if c.IsDecoder {
		return errors.New("is_decoder true is not supported (a causal BERT; loft's attends both ways)")
	}
	return nil
}

// Tied reports whether the masked-LM decoder shares the word embeddings'
// weight (tie_word_embeddings, default true).
func (c *Config) Tied() bool { return c.TieWordEmbeddings == nil || *c.TieWordEmbeddings }

// Layer is one post-norm encoder block.
type Layer struct {
	Q, K, V nn.LinearLayer // attention.self.{query,key,value}
	AttOut  nn.LinearLayer // attention.output.dense
	AttLN   nn.LayerNorm   // attention.output.LayerNorm
	Inter   nn.LinearLayer // intermediate.dense
	Out     nn.LinearLayer // output.dense
	OutLN   nn.LayerNorm   // output.LayerNorm
}

// Model is BertForMaskedLM, or BertModel (the encoder alone) when MLM is
// false: a BertModel checkpoint (sentence-transformers', names without the
// "bert." prefix) has no masked-LM head, and llama.cpp's GGUF conversion
// keeps only the encoder, dropping the masked-LM head, the pooler and the
// next-sentence head. Not safe for concurrent use.
type Model struct {
	Config    Config
	Word      nn.Embedding // (V, C)
	Pos       nn.Embedding // (P, C)
	Type      nn.Embedding // (TV, C)
	EmbLN     nn.LayerNorm
	Layers    []Layer
	Transform nn.LinearLayer // cls.predictions.transform.dense
	HeadLN    nn.LayerNorm   // cls.predictions.transform.LayerNorm
	Decoder   nn.LinearLayer // cls.predictions.decoder (V, C): W is Word.W when tied, bias cls.predictions.bias
	// MLM reports whether the masked-LM head (Transform, HeadLN, Decoder)
	// holds weights: true for a BertForMaskedLM checkpoint, false for a
	// BertModel one or GGUF, whose loading leaves Transform and Decoder
	// nil.
	MLM bool

	attn nn.Attention
	acts Acts
}

// New returns a model of config c with zero weights.
func New(c Config) (*Model, error) {
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	C, I := c.HiddenSize, c.IntermediateSize
	eps := float32(c.LayerNormEps)
	ln := func() nn.LayerNorm { return nn.LayerNorm{W: make([]float32, C), B: make([]float32, C), Eps: eps} }
	m := &Model{
		Config: c,
		Word:   nn.Embedding{V: c.VocabSize, C: C, W: tensor.Weights(c.VocabSize * C)},
		Pos:    nn.Embedding{V: c.MaxPositions, C: C, W: make([]float32, c.MaxPositions*C)},
		Type:   nn.Embedding{V: c.TypeVocabSize, C: C, W: make([]float32, c.TypeVocabSize*C)},
		EmbLN:  ln(), HeadLN: ln(),
		Transform: nn.NewLinear(C, C, true),
		MLM:       true,
		attn:      nn.Attention{NH: c.NumHeads, NKV: c.NumHeads, HS: C / c.NumHeads},
	}
	for range c.NumLayers {
		m.Layers = append(m.Layers, Layer{
			Q: nn.NewLinear(C, C, true), K: nn.NewLinear(C, C, true), V: nn.NewLinear(C, C, true),
			AttOut: nn.NewLinear(C, C, true), AttLN: ln(),
			Inter: nn.NewLinear(C, I, true), Out: nn.NewLinear(I, C, true), OutLN: ln(),
		})
	}
	dec := &nn.Linear{In: C, Out: c.VocabSize, W: m.Word.W, B: make([]float32, c.VocabSize)}
	if !c.Tied() {
		dec.W = tensor.Weights(c.VocabSize * C)
	}
	m.Decoder = dec
	return m, nil
}

// Slots returns the linear layers under their PEFT names.
func (m *Model) Slots() []nn.Slot {
	var s []nn.Slot
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("bert.encoder.layer.%d.", i)
		s = append(s,
			nn.Slot{Name: p + "attention.self.query", Layer: &l.Q},
			nn.Slot{Name: p + "attention.self.key", Layer: &l.K},
			nn.Slot{Name: p + "attention.self.value", Layer: &l.V},
			nn.Slot{Name: p + "attention.output.dense", Layer: &l.AttOut},
			nn.Slot{Name: p + "intermediate.dense", Layer: &l.Inter},
			nn.Slot{Name: p + "output.dense", Layer: &l.Out},
		)
	}
	if !m.MLM {
		return s
	}
	return append(s,
		nn.Slot{Name: "cls.predictions.transform.dense", Layer: &m.Transform},
		nn.Slot{Name: "cls.predictions.decoder", Layer: &m.Decoder, Head: true})
}

// NumParams counts parameters once (a tied decoder weight is the word
// embeddings).
func (m *Model) NumParams() int {
	n := 0
	for _, w := range m.table() {
		n += len(*w.dst)
	}
	return n
}

// weight is one row of BERT's weight table: Hugging Face name
// (BertForMaskedLM's, with the "bert." prefix), GGUF name (llama.cpp's;
// empty for the masked-LM head, which GGUF files lack), destination and
// model shape.
type weight struct {
	name, gguf string
	dst        *[]float32
	shape      []int
}

func (m *Model) table() []weight {
	c := &m.Config
	C := c.HiddenSize
	var t []weight
	ln := func(p, g string, n *nn.LayerNorm) {
		t = append(t, weight{p + ".weight", g + ".weight", &n.W, []int{C}}, weight{p + ".bias", g + ".bias", &n.B, []int{C}})
	}
	lin := func(p, g string, l nn.LinearLayer) {
		b := l.Base()
		t = append(t, weight{p + ".weight", g + ".weight", &b.W, []int{b.Out, b.In}}, weight{p + ".bias", g + ".bias", &b.B, []int{b.Out}})
	}
	t = append(t,
		weight{"bert.embeddings.word_embeddings.weight", "token_embd.weight", &m.Word.W, []int{c.VocabSize, C}},
		weight{"bert.embeddings.position_embeddings.weight", "position_embd.weight", &m.Pos.W, []int{c.MaxPositions, C}},
		weight{"bert.embeddings.token_type_embeddings.weight", "token_types.weight", &m.Type.W, []int{c.TypeVocabSize, C}})
	ln("bert.embeddings.LayerNorm", "token_embd_norm", &m.EmbLN)
	for i := range m.Layers {
		l := &m.Layers[i]
		p, g := fmt.Sprintf("bert.encoder.layer.%d.", i), fmt.Sprintf("blk.%d.", i)
		lin(p+"attention.self.query", g+"attn_q", l.Q)
		lin(p+"attention.self.key", g+"attn_k", l.K)
		lin(p+"attention.self.value", g+"attn_v", l.V)
		lin(p+"attention.output.dense", g+"attn_output", l.AttOut)
		ln(p+"attention.output.LayerNorm", g+"attn_output_norm", &l.AttLN)
		lin(p+"intermediate.dense", g+"ffn_up", l.Inter)
		lin(p+"output.dense", g+"ffn_down", l.Out)
		ln(p+"output.LayerNorm", g+"layer_output_norm", &l.OutLN)
	}
	if !m.MLM {
		return t
	}
	lin("cls.predictions.transform.dense", "", m.Transform)
	ln("cls.predictions.transform.LayerNorm", "", &m.HeadLN)
	dec := m.Decoder.Base()
	if !c.Tied() {
		t = append(t, weight{"cls.predictions.decoder.weight", "", &dec.W, []int{c.VocabSize, C}})
	}
	return append(t, weight{"cls.predictions.bias", "", &dec.B, []int{c.VocabSize}})
}

// Load fills the weights from a Hugging Face checkpoint or a GGUF file.
// A BertForMaskedLM checkpoint names the encoder's tensors under "bert."
// and holds the masked-LM head (cls.predictions.*, with
// cls.predictions.decoder.weight when tie_word_embeddings is false); a
// BertModel checkpoint (sentence-transformers', bert-base-uncased saved
// as BertModel) names them without the prefix and has no head, so the
// model loads as the encoder alone (MLM false). A checkpoint mixing both
// namings is refused. LayerNorm parameters may be named gamma and beta
// instead of weight and bias (older checkpoints, bert-base-uncased's).
// Known tensors the model does not use are ignored: position_ids
// buffers, the pooler and the next-sentence head of BertForPreTraining
// checkpoints, the decoder's tied weight and bias copies, and in GGUF
// files the pooler and classifier of rerankers (cls.*). A GGUF file has
// no masked-LM head (llama.cpp's converter drops it), so it too loads as
// the encoder alone.
func (m *Model) Load(src ckpt.Source) error {
	prefix := "bert."
	if !src.GGUF() {
		var err error
		if prefix, err = hfPrefix(src); err != nil {
			return err
		}
	}
	m.MLM = !src.GGUF() && prefix != ""
	// Checkpoints saved by old transformers versions (bert-base-uncased's
	// own) name LayerNorm parameters gamma and beta, as TensorFlow did.
	_, legacy := src.Shape(prefix + "embeddings.LayerNorm.gamma")
	legacyLN := strings.NewReplacer(".LayerNorm.weight", ".LayerNorm.gamma", ".LayerNorm.bias", ".LayerNorm.beta")
	var entries []ckpt.Entry
	for _, w := range m.table() {
		e := ckpt.Entry{Name: w.name, Dst: w.dst, Shape: w.shape}
		switch {
		case src.GGUF():
			e.Name = w.gguf
		case prefix == "":
			e.Name = strings.TrimPrefix(w.name, "bert.")
		}
		if legacy {
			e.Name = legacyLN.Replace(e.Name)
		}
		entries = append(entries, e)
	}
	tied := m.Config.Tied()
	ignore := func(n string) bool {
		if src.GGUF() {
			return strings.HasPrefix(n, "cls.")
		}
		return strings.HasSuffix(n, "position_ids") || strings.HasPrefix(n, prefix+"pooler.") ||
			strings.HasPrefix(n, "cls.seq_relationship.") || (tied && n == "cls.predictions.decoder.weight") || n == "cls.predictions.decoder.bias"
	}
	if err := ckpt.Fill(src, entries, ignore); err != nil {
		return err
	}
	if !m.MLM {
		// No head to hold: free what New allocated for it.
		m.Transform, m.HeadLN, m.Decoder = nil, nn.LayerNorm{}, nil
		return nil
	}
	if tied {
		m.Decoder.Base().W = m.Word.W
	}
	return nil
}

// hfPrefix returns the prefix of a Hugging Face checkpoint's encoder
// tensors: "bert." (BertForMaskedLM, BertForPreTraining) or "" (BertModel,
// whose tensors are embeddings.*, encoder.* and pooler.*). A checkpoint
// with both is an error naming one tensor of each.
func hfPrefix(src ckpt.Source) (string, error) {
	var prefixed, bare string
	for _, n := range src.Names() {
		switch {
		case strings.HasPrefix(n, "bert."):
			if prefixed == "" {
				prefixed = n
			}
		case strings.HasPrefix(n, "embeddings.") || strings.HasPrefix(n, "encoder.") || strings.HasPrefix(n, "pooler."):
			if bare == "" {
				bare = n
			}
		}
	}
	switch {
	case prefixed != "" && bare != "":
		return "", fmt.Errorf("%s: tensor names mix BertForMaskedLM's \"bert.\" prefix (%s) with BertModel's unprefixed names (%s)", src.Path(), prefixed, bare)
	case bare != "":
		return "", nil
	}
	return "bert.", nil
}

// ConfigFromGGUF reads a bert-architecture GGUF file's metadata (the keys
// llama.cpp writes: bert.block_count, bert.embedding_length, ...); the
// vocabulary and token-type counts come from the embedding tables' shapes.
// GGUF does not record the activation: BERT's exact GELU is assumed.
func ConfigFromGGUF(f *gguf.File) (Config, error) {
	var c Config
	m := &ckpt.GGUFMeta{F: f, Prefix: "bert"}
	m.Uint("embedding_length", &c.HiddenSize, true)
	m.Uint("block_count", &c.NumLayers, true)
	m.Uint("attention.head_count", &c.NumHeads, true)
	m.Uint("feed_forward_length", &c.IntermediateSize, true)
	m.Uint("context_length", &c.MaxPositions, true)
	m.Float("attention.layer_norm_epsilon", &c.LayerNormEps, false)
	m.Rows("token_embd.weight", &c.VocabSize)
	m.Rows("token_types.weight", &c.TypeVocabSize)
	if err := m.Err(); err != nil {
		return c, err
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("gguf %s: %v", f.Path(), err)
	}
	return c, nil
}

// Randomize fills the weights from a seeded generator (N(0, 0.02)
// matrices, zero biases, unit LayerNorm weights).
func (m *Model) Randomize(seed uint64) {
	r := ckpt.NewRandomizer(seed)
	for _, w := range m.table() {
		r.Fill(w.name, *w.dst, len(w.shape))
	}
}

// LayerActs holds one block's activations for B·T rows.
type LayerActs struct {
	Q, K, V          []float32 // (BT, C)
	Probs            []float32 // (B, NH, T, T)
	Att, AttO        []float32 // (BT, C)
	Res1             []float32 // (BT, C) x + attention (AttLN input)
	H1, Mean1, Rstd1 []float32 // AttLN out (BT, C), mean, rstd (BT)
	Inter, Gelu      []float32 // (BT, I)
	Out              []float32 // (BT, C)
	Res2             []float32 // (BT, C)
	Mean2, Rstd2     []float32 // (BT) OutLN stats; its output is the next X
}

// Acts holds an encoder pass's activations for one (B, T) shape.
type Acts struct {
	B, T         int
	Emb          []float32   // (BT, C) embeddings sum (EmbLN input)
	MeanE, RstdE []float32   // (BT)
	X            [][]float32 // X[l] (BT, C) block l's input; X[L] the encoder output
	Layers       []LayerActs
	Tr, TrGelu   []float32 // (BT, C) transform.dense out, gelu
	HeadLN       []float32 // (BT, C)
	MeanH, RstdH []float32 // (BT)
}

func (m *Model) growActs(a *Acts, B, T int) {
	c := &m.Config
	N, C, I := B*T, c.HiddenSize, c.IntermediateSize
	g := nn.Grow
	a.B, a.T = B, T
	a.Emb, a.MeanE, a.RstdE = g(a.Emb, N*C), g(a.MeanE, N), g(a.RstdE, N)
	a.X = nn.GrowEach(a.X, c.NumLayers+1, N*C)
	a.Layers = nn.Resize(a.Layers, c.NumLayers)
	for i := range a.Layers {
		l := &a.Layers[i]
		l.Q, l.K, l.V = g(l.Q, N*C), g(l.K, N*C), g(l.V, N*C)
		l.Probs = g(l.Probs, B*c.NumHeads*T*T)
		l.Att, l.AttO, l.Res1 = g(l.Att, N*C), g(l.AttO, N*C), g(l.Res1, N*C)
		l.H1, l.Mean1, l.Rstd1 = g(l.H1, N*C), g(l.Mean1, N), g(l.Rstd1, N)
		l.Inter, l.Gelu, l.Out, l.Res2 = g(l.Inter, N*I), g(l.Gelu, N*I), g(l.Out, N*C), g(l.Res2, N*C)
		l.Mean2, l.Rstd2 = g(l.Mean2, N), g(l.Rstd2, N)
	}
}

func (m *Model) gelu(out, x []float32, n int) {
	if m.Config.HiddenAct == "gelu" {
		kernels.GELUErfForward(out, x, n)
	} else {
		kernels.GELUTanhForward(out, x, n)
	}
}

// VocabSize is the number of MLM scores per position.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// Encode runs the encoder on ids and token types (B, T) with lens (B) real
// tokens per row (nil: all T), saving activations in the model's buffers,
// and returns the encoder output (B, T, C), valid until the next call.
func (m *Model) Encode(ids, types []int32, lens []int, B, T int) ([]float32, error) {
	c := &m.Config
	if B <= 0 || T <= 0 || len(ids) != B*T || (types != nil && len(types) != B*T) || (lens != nil && len(lens) != B) {
		return nil, fmt.Errorf("bert: %d ids, %d types, %d lens for B=%d, T=%d", len(ids), len(types), len(lens), B, T)
	}
	if T > c.MaxPositions {
		return nil, fmt.Errorf("bert: %d positions exceed max_position_embeddings %d", T, c.MaxPositions)
	}
	if err := nn.CheckIDs(ids, c.VocabSize); err != nil {
		return nil, err
	}
	if types != nil {
		if err := nn.CheckIDs(types, c.TypeVocabSize); err != nil {
			return nil, errors.New("bert: token type: " + err.Error())
		}
	}
	a := &m.acts
	m.growActs(a, B, T)
	N, C := B*T, c.HiddenSize
	m.Word.Forward(a.Emb, ids, N)
	for i := 0; i < N; i++ {
		row := a.Emb[i*C : (i+1)*C]
		p := m.Pos.W[(i%T)*C : (i%T+1)*C]
		tt := 0
		if types != nil {
			tt = int(types[i])
		}
		ty := m.Type.W[tt*C : (tt+1)*C]
		for j := range row {
			row[j] += p[j] + ty[j]
		}
	}
	m.EmbLN.Forward(a.X[0], a.MeanE, a.RstdE, a.Emb, N)
	for li := range m.Layers {
		L, la, x := &m.Layers[li], &a.Layers[li], a.X[li]
		L.Q.Forward(la.Q, x, N)
		L.K.Forward(la.K, x, N)
		L.V.Forward(la.V, x, N)
		m.attn.Forward(la.Att, la.Probs, la.Q, la.K, la.V, B, T, false, lens)
		L.AttOut.Forward(la.AttO, la.Att, N)
		kernels.AddForward(la.Res1, x, la.AttO, N*C)
		L.AttLN.Forward(la.H1, la.Mean1, la.Rstd1, la.Res1, N)
		L.Inter.Forward(la.Inter, la.H1, N)
		m.gelu(la.Gelu, la.Inter, N*c.IntermediateSize)
		L.Out.Forward(la.Out, la.Gelu, N)
		kernels.AddForward(la.Res2, la.H1, la.Out, N*C)
		L.OutLN.Forward(a.X[li+1], la.Mean2, la.Rstd2, la.Res2, N)
	}
	return a.X[len(m.Layers)], nil
}

// Forward runs the encoder and the MLM head: scores (B, T, V). A model
// without the head (BertModel, GGUF) returns an error; Encode still works.
func (m *Model) Forward(ids, types []int32, lens []int, B, T int, scores []float32) error {
	if !m.MLM {
		return errors.New("bert: this model has no masked-LM head (it was loaded from a BertModel checkpoint or a GGUF file, which hold the encoder only); Encode gives the encoder's output")
	}
	if len(scores) < B*T*m.Config.VocabSize {
		return fmt.Errorf("bert: scores hold %d values, need %d", len(scores), B*T*m.Config.VocabSize)
	}
	x, err := m.Encode(ids, types, lens, B, T)
	if err != nil {
		return err
	}
	a, N, g := &m.acts, B*T, nn.Grow
	C := m.Config.HiddenSize
	a.Tr, a.TrGelu, a.HeadLN = g(a.Tr, N*C), g(a.TrGelu, N*C), g(a.HeadLN, N*C)
	a.MeanH, a.RstdH = g(a.MeanH, N), g(a.RstdH, N)
	m.Transform.Forward(a.Tr, x, N)
	m.gelu(a.TrGelu, a.Tr, N*m.Config.HiddenSize)
	m.HeadLN.Forward(a.HeadLN, a.MeanH, a.RstdH, a.TrGelu, N)
	m.Decoder.Forward(scores, a.HeadLN, N)
	return nil
}
