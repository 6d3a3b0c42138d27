package gpt2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/model/internal/ckpt"
)

// Config is GPT-2's config.json (HF field names).
type Config struct {
	NEmbd      int     `json:"n_embd"`
	NLayer     int     `json:"n_layer"`
	NHead      int     `json:"n_head"`
	NPositions int     `json:"n_positions"`
	NInner     *int    `json:"n_inner"` // null: 4·n_embd
	VocabSize  int     `json:"vocab_size"`
	LNEps      float64 `json:"layer_norm_epsilon"`
	// Activation: "gelu_new", "gelu_pytorch_tanh" (tanh form) or "gelu"
	// (exact erf).
	Activation           string `json:"activation_function"`
	ScaleAttnWeights     *bool  `json:"scale_attn_weights"`
	ScaleAttnByLayerIdx  bool   `json:"scale_attn_by_inverse_layer_idx"`
	ReorderAndUpcastAttn bool   `json:"reorder_and_upcast_attn"`
	// TieWordEmbeddings: nil means GPT2LMHeadModel's default, true (the
	// head is wte); false gives the head its own weight, lm_head.weight.
	TieWordEmbeddings     *bool `json:"tie_word_embeddings"`
	intermediate, headDim int
}

// ParseConfig reads a GPT-2 config.json; file names it in errors.
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
	}{{"n_embd", c.NEmbd}, {"n_layer", c.NLayer}, {"n_head", c.NHead}, {"n_positions", c.NPositions}, {"vocab_size", c.VocabSize}} {
		if f.v <= 0 {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing or non-positive field(s): %s", strings.Join(missing, ", "))
	}
	if c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
	}
	c.headDim = c.NEmbd / c.NHead
	c.intermediate = 4 * c.NEmbd
	if c.NInner != nil && *c.NInner > 0 {
		c.intermediate = *c.NInner
	}
	if c.LNEps == 0 {
		c.LNEps = 1e-5
	}
	switch c.Activation {
	case "":
		c.Activation = "gelu_new"
	case "gelu_new", "gelu_pytorch_tanh", "gelu":
	default:
		return fmt.Errorf("activation_function %q is not supported (gelu_new, gelu_pytorch_tanh, gelu)", c.Activation)
	}
	if c.ScaleAttnWeights != nil && !*c.ScaleAttnWeights {
		return errors.New("scale_attn_weights false is not supported")
	}
	if c.ScaleAttnByLayerIdx {
		return errors.New("scale_attn_by_inverse_layer_idx true is not supported")
	}
	return nil
}

// Intermediate is the MLP width (n_inner, default 4·n_embd).
func (c *Config) Intermediate() int { return c.intermediate }

// HeadDim is n_embd / n_head.
func (c *Config) HeadDim() int { return c.headDim }

// Tied reports whether lm_head shares wte's weight (tie_word_embeddings,
// default true).
func (c *Config) Tied() bool { return c.TieWordEmbeddings == nil || *c.TieWordEmbeddings }

// ConfigFromGGUF reads a gpt2-architecture GGUF file's metadata.
func ConfigFromGGUF(f *gguf.File) (Config, error) {
	c := Config{Activation: "gelu_new"}
	m := &ckpt.GGUFMeta{F: f, Prefix: "gpt2"}
	var inner int
	m.Uint("embedding_length", &c.NEmbd, true)
	m.Uint("block_count", &c.NLayer, true)
	m.Uint("attention.head_count", &c.NHead, true)
	m.Uint("context_length", &c.NPositions, true)
	m.Uint("feed_forward_length", &inner, true)
	c.NInner = &inner
	m.Float("attention.layer_norm_epsilon", &c.LNEps, false)
	m.Rows("token_embd.weight", &c.VocabSize)
	tied := ggufTied(f)
	c.TieWordEmbeddings = &tied
	if err := m.Err(); err != nil {
		return c, err
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("gguf %s: %v", f.Path(), err)
	}
	return c, nil
}

// ggufTied reports whether a gpt2 GGUF file's head is its token embedding.
// llama.cpp's converter writes GPT-2's tied head twice, as
// token_embd.weight and an identical output.weight, and llama.cpp runs
// output.weight as the head whenever the file has one. So an exact copy
// (same type, dims and bytes) is the tied head; an output.weight that
// differs (an untied model, or a head quantised to another type) is an
// untied head; no output.weight is a tied head.
func ggufTied(f *gguf.File) bool {
	out, oi, err := f.Raw("output.weight")
	if err != nil {
		return true
	}
	emb, ei, err := f.Raw("token_embd.weight")
	return err == nil && oi.Type == ei.Type && slices.Equal(oi.Dims, ei.Dims) && bytes.Equal(out, emb)
}
