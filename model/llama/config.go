package llama

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model/internal/ckpt"
)

// Config is a decoder's shape and options, read from config.json (HF field
// names) or GGUF metadata. Call Normalize after filling it.
type Config struct {
	ModelType        string       `json:"model_type"`
	HiddenSize       int          `json:"hidden_size"`
	IntermediateSize int          `json:"intermediate_size"`
	NumLayers        int          `json:"num_hidden_layers"`
	NumHeads         int          `json:"num_attention_heads"`
	NumKVHeads       int          `json:"num_key_value_heads"` // 0: NumHeads
	HeadDim          int          `json:"head_dim"`            // 0: HiddenSize/NumHeads
	VocabSize        int          `json:"vocab_size"`
	MaxPositions     int          `json:"max_position_embeddings"`
	RMSNormEps       float64      `json:"rms_norm_eps"`
	RopeTheta        float64      `json:"rope_theta"`
	RopeScaling      *RopeScaling `json:"rope_scaling"`
	// PartialRotaryFactor below 1 rotates only part of each head; loft
	// rotates whole heads and refuses it.
	PartialRotaryFactor *float64 `json:"partial_rotary_factor"`
	HiddenAct           string   `json:"hidden_act"`
	// TieWordEmbeddings: nil means the architecture's default (false for
	// llama, mistral, qwen2 and qwen3, as transformers' configs).
	TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	// AttentionBias (attention_bias of llama and qwen3) gives q, k, v and
	// o biases; MLPBias (llama's mlp_bias) is refused. Normalize clears
	// both where the architecture ignores them.
	AttentionBias bool `json:"attention_bias"`
	MLPBias       bool `json:"mlp_bias"`
	// SlidingWindow (Mistral v0.1; Qwen2/3 with use_sliding_window) limits
	// each query to the last SlidingWindow keys. loft attends to every key,
	// so it caps the context length at the window instead, where the two
	// agree. Qwen2/3 slide only in the layers layer_types names
	// "sliding_attention", by default those from max_window_layers on.
	SlidingWindow    *int     `json:"sliding_window"`
	UseSlidingWindow *bool    `json:"use_sliding_window"`
	MaxWindowLayers  *int     `json:"max_window_layers"`
	LayerTypes       []string `json:"layer_types"`

	// Switches set by Normalize from ModelType (QKVBias also by
	// ConfigFromGGUF, for a llama GGUF with q/k/v biases alone).
	QKVBias bool `json:"-"` // q/k/v biases without an o bias (qwen2)
	QKNorm  bool `json:"-"` // RMSNorm over each head of q and k before RoPE (qwen3)

	// RopeFreqs holds per-frequency divisors from a GGUF rope_freqs tensor
	// (Llama 3 scaling as llama.cpp stores it); nil otherwise.
	RopeFreqs []float32 `json:"-"`

	// ropeKey names where RopeScaling came from in errors:
	// "rope_parameters" (ParseConfig), a GGUF's "<arch>.rope.scaling.type"
	// (ConfigFromGGUF), else rope_scaling.
	ropeKey string
}

// RopeScaling is config.json's rope_scaling. Supported: "llama3" and
// "linear"; other types are refused.
type RopeScaling struct {
	RopeType                      string  `json:"rope_type"`
	Type                          string  `json:"type"` // older name of rope_type
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
}

// ropeParameters is transformers 5's rope_parameters: rope_theta and the
// scaling that earlier versions kept in rope_theta and rope_scaling.
type ropeParameters struct {
	RopeScaling
	RopeTheta           float64  `json:"rope_theta"`
	PartialRotaryFactor *float64 `json:"partial_rotary_factor"`
}

// ParseConfig reads a config.json; file names it in errors. Besides
// Normalize's defaults it applies those that only config.json knows:
// rope_parameters (transformers 5 saves RoPE there, and its values win),
// Qwen3's head_dim of 128 and the sliding_window of 4096 of Mistral, Qwen2
// and Qwen3 when the keys are absent (a null window is none), as
// transformers' configs do.
func ParseConfig(data []byte, file string) (Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %v", file, jsonerr.Describe(data, err))
	}
	var raw struct {
		RopeParameters map[string]json.RawMessage `json:"rope_parameters"`
		SlidingWindow  json.RawMessage            `json:"sliding_window"`
		HeadDim        json.RawMessage            `json:"head_dim"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return c, fmt.Errorf("%s: %v", file, jsonerr.Describe(data, err))
	}
	if raw.RopeParameters != nil {
		var rp ropeParameters
		for k, v := range raw.RopeParameters {
			if len(v) > 0 && v[0] == '{' {
				return c, fmt.Errorf("%s: rope_parameters per layer type (%q) is not supported", file, k)
			}
			if err := json.Unmarshal(v, new(any)); err != nil {
				return c, fmt.Errorf("%s: rope_parameters %q: %v", file, k, err)
			}
		}
		b, _ := json.Marshal(raw.RopeParameters)
		if err := json.Unmarshal(b, &rp); err != nil {
			return c, fmt.Errorf("%s: rope_parameters: %v", file, err)
		}
		if rp.RopeTheta != 0 {
			c.RopeTheta = rp.RopeTheta
		}
		c.RopeScaling, c.ropeKey = &rp.RopeScaling, "rope_parameters"
		if rp.PartialRotaryFactor != nil {
			c.PartialRotaryFactor = rp.PartialRotaryFactor
		}
	}
	if c.ModelType == "qwen3" && raw.HeadDim == nil {
		c.HeadDim = 128
	}
	if raw.SlidingWindow == nil && (c.ModelType == "mistral" || c.ModelType == "qwen2" || c.ModelType == "qwen3") {
		w := 4096
		c.SlidingWindow = &w
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("%s: %v", file, err)
	}
	return c, nil
}

// Normalize checks the required fields, applies the defaults of
// transformers' configs and sets the architecture switches.
func (c *Config) Normalize() error {
	// attention_bias and mlp_bias count only where transformers' modules
	// read them (LlamaAttention, LlamaMLP, Qwen3Attention). MistralAttention
	// and MistralMLP have no biases, Qwen2Attention has q/k/v biases and
	// none on o_proj, Qwen2MLP and Qwen3MLP (GemmaMLP) have none, whatever
	// config.json says.
	switch c.ModelType {
	case "llama":
	case "mistral":
		c.AttentionBias, c.MLPBias = false, false
	case "qwen2":
		c.QKVBias, c.AttentionBias, c.MLPBias = true, false, false
	case "qwen3":
		c.QKNorm, c.MLPBias = true, false
	default:
		return fmt.Errorf("model_type %q is not a llama-family decoder (llama, mistral, qwen2, qwen3)", c.ModelType)
	}
	var missing []string
	for _, f := range []struct {
		name string
		v    int
	}{{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize}, {"num_hidden_layers", c.NumLayers},
		{"num_attention_heads", c.NumHeads}, {"vocab_size", c.VocabSize}} {
		if f.v <= 0 {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing or non-positive field(s): %s", strings.Join(missing, ", "))
	}
	if c.HeadDim < 0 || c.MaxPositions < 0 {
		return fmt.Errorf("head_dim %d or max_position_embeddings %d is negative", c.HeadDim, c.MaxPositions)
	}
	if c.NumKVHeads == 0 {
		c.NumKVHeads = c.NumHeads
	}
	if c.HeadDim == 0 {
		if c.HiddenSize%c.NumHeads != 0 {
			return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is not set", c.HiddenSize, c.NumHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumHeads
	}
	if c.NumKVHeads < 0 || c.NumHeads%c.NumKVHeads != 0 {
		return fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumHeads, c.NumKVHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim %d must be even for RoPE", c.HeadDim)
	}
	if c.MaxPositions == 0 {
		// The max_position_embeddings defaults of LlamaConfig,
		// MistralConfig (4096·32), Qwen2Config and Qwen3Config.
		switch c.ModelType {
		case "mistral":
			c.MaxPositions = 131072
		case "qwen2", "qwen3":
			c.MaxPositions = 32768
		default:
			c.MaxPositions = 2048
		}
	}
	if c.windowed() && c.SlidingWindow != nil && *c.SlidingWindow > 0 && *c.SlidingWindow < c.MaxPositions {
		c.MaxPositions = *c.SlidingWindow
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return fmt.Errorf("hidden_act %q is not supported (want silu)", c.HiddenAct)
	}
	if c.MLPBias {
		return errors.New("mlp_bias true is not supported")
	}
	if f := c.PartialRotaryFactor; f != nil && *f != 1 {
		return fmt.Errorf("partial_rotary_factor %v is not supported (RoPE over whole heads only)", *f)
	}
	if c.RopeScaling != nil {
		// Errors name the key as the file spells it: rope_scaling or
		// rope_parameters, and rope_type or the older type.
		key, field := "rope_scaling", "rope_type"
		if c.ropeKey != "" {
			key = c.ropeKey
		}
		t := c.RopeScaling.RopeType
		if t == "" {
			t, field = c.RopeScaling.Type, "type"
		}
		c.RopeScaling.RopeType = t
		switch t {
		case "llama3":
			r := c.RopeScaling
			if r.Factor <= 0 || r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPositionEmbeddings <= 0 {
				return fmt.Errorf("%s llama3 needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings, got %+v", key, *r)
			}
		case "linear":
			if c.RopeScaling.Factor <= 0 {
				return fmt.Errorf("%s linear needs a positive factor", key)
			}
		case "default", "":
			c.RopeScaling = nil
		default:
			return fmt.Errorf("%s %s %q is not supported (llama3, linear)", key, field, t)
		}
	}
	return nil
}

// windowed reports whether some layer attends through a sliding window, as
// transformers decides it: every Mistral layer when sliding_window is set;
// for Qwen2 and Qwen3 only with use_sliding_window, in the layers
// layer_types marks "sliding_attention", which by default are those from
// max_window_layers (28) on (Qwen2Config, Qwen2Attention.sliding_window).
// Llama has no window.
func (c *Config) windowed() bool {
	switch c.ModelType {
	case "mistral":
		return true
	case "qwen2", "qwen3":
		if c.UseSlidingWindow == nil || !*c.UseSlidingWindow {
			return false
		}
		if c.LayerTypes != nil {
			return slices.Contains(c.LayerTypes, "sliding_attention")
		}
		first := 28
		if c.MaxWindowLayers != nil {
			first = *c.MaxWindowLayers
		}
		return c.NumLayers > first
	}
	return false
}

// Tied reports whether lm_head shares embed_tokens' weight.
func (c *Config) Tied() bool { return c.TieWordEmbeddings != nil && *c.TieWordEmbeddings }

// KVDim is NumKVHeads·HeadDim, the keys (and values) per position.
func (c *Config) KVDim() int { return c.NumKVHeads * c.HeadDim }

// NewRoPE builds the rotary embedding of the config. A GGUF file's
// rope_freqs divisors and its linear scaling factor both apply, as in
// llama.cpp (ggml's rope divides each angle by its freq_factor and
// multiplies it by freq_scale = 1/factor).
func (c *Config) NewRoPE() (*kernels.RoPE, error) {
	div := c.RopeFreqs
	if r := c.RopeScaling; r != nil {
		switch {
		case r.RopeType == "llama3" && div == nil:
			div = kernels.Llama3RoPEDivisors(c.HeadDim, c.RopeTheta, r.Factor, r.LowFreqFactor, r.HighFreqFactor, r.OriginalMaxPositionEmbeddings)
		case r.RopeType == "linear" && (div == nil || len(div) == c.HeadDim/2):
			lin := make([]float32, c.HeadDim/2)
			for i := range lin {
				lin[i] = float32(r.Factor)
				if div != nil {
					lin[i] *= div[i]
				}
			}
			div = lin
		}
	}
	return kernels.NewRoPE(c.HeadDim, c.HeadDim, c.RopeTheta, div, false)
}

// ConfigFromGGUF reads the metadata of a GGUF file whose
// general.architecture is arch ("llama", "qwen2", "qwen3"), with
// llama.cpp's defaults for optional keys. The vocabulary size comes from
// token_embd.weight.
func ConfigFromGGUF(f *gguf.File, arch string) (Config, error) {
	c := Config{ModelType: arch}
	if arch == "llama" || arch == "mistral" {
		c.ModelType = "llama"
	}
	m := &ckpt.GGUFMeta{F: f, Prefix: arch}
	m.Uint("embedding_length", &c.HiddenSize, true)
	m.Uint("feed_forward_length", &c.IntermediateSize, true)
	m.Uint("block_count", &c.NumLayers, true)
	m.Uint("attention.head_count", &c.NumHeads, true)
	m.Uint("attention.head_count_kv", &c.NumKVHeads, false)
	m.Uint("attention.key_length", &c.HeadDim, false)
	m.Uint("context_length", &c.MaxPositions, true) // required by llama.cpp too
	var rotary int
	m.Uint("rope.dimension_count", &rotary, false)
	// llama.cpp requires the epsilon for every llama-family architecture
	// (Qwen's differs from Llama's, so no default can stand in for it).
	m.Float("attention.layer_norm_rms_epsilon", &c.RMSNormEps, true)
	m.Float("rope.freq_base", &c.RopeTheta, false)
	// As llama.cpp: the scaling type defaults to linear, its factor is
	// rope.scaling.factor, else the older rope.scale_linear, and a factor
	// of 0 (or 1) scales nothing.
	scaling := "linear"
	if t, err := f.String(arch + ".rope.scaling.type"); err == nil {
		scaling = t
	}
	var factor float64
	m.Float("rope.scale_linear", &factor, false)
	m.Float("rope.scaling.factor", &factor, false)
	switch {
	case scaling == "none":
	case scaling != "linear":
		m.Failf("%s.rope.scaling.type %q is not supported", arch, scaling)
	case factor != 0 && factor != 1:
		c.RopeScaling, c.ropeKey = &RopeScaling{RopeType: "linear", Factor: factor}, arch+".rope.scaling.type"
	}
	m.Rows("token_embd.weight", &c.VocabSize)
	if c.ModelType == "llama" {
		// llama.cpp's llama architecture takes q/k/v and output biases when
		// the file has them; the first block tells. Without the output
		// bias, the q/k/v ones are Qwen2's shape.
		_, qkv := f.Tensor("blk.0.attn_q.bias")
		_, o := f.Tensor("blk.0.attn_output.bias")
		c.AttentionBias, c.QKVBias = qkv && o, qkv && !o
	}
	_, hasOutput := f.Tensor("output.weight")
	tied := !hasOutput
	c.TieWordEmbeddings = &tied
	if err := m.Err(); err != nil {
		return c, err
	}
	if err := c.Normalize(); err != nil {
		return c, fmt.Errorf("gguf %s: %v", f.Path(), err)
	}
	if rotary != 0 && rotary != c.HeadDim {
		return c, fmt.Errorf("gguf %s: %s.rope.dimension_count %d differs from the head size %d (partial rotary is not supported)", f.Path(), arch, rotary, c.HeadDim)
	}
	return c, nil
}
