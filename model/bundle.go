package model

import (
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

// LoadOptions tunes Load. Empty for now (later: dtype, threads).
type LoadOptions struct{}

// Bundle is everything loaded from a model folder or GGUF file.
type Bundle struct {
	Path string
	// Arch is the architecture: "llama" (also Mistral), "qwen2", "qwen3",
	// "gpt2" or "bert".
	Arch string
	// LM is the decoder, nil for encoders.
	LM CausalLM
	// Encoder is the BERT encoder (with its masked-LM head unless loaded
	// from a BertModel checkpoint or GGUF), nil for decoders.
	Encoder Encoder
	// Slots are the model's linear layers under their PEFT module names.
	Slots []nn.Slot
	// Tokenizer is nil when the folder has no tokenizer files.
	Tokenizer tokenizer.Tokenizer
	// Chat is nil when there is no chat template.
	Chat *chat.Config
	Gen  GenerationConfig
	Info Info
}

// Encoder is a bidirectional encoder (BERT), with its masked-LM head when
// the checkpoint has one (a BertModel checkpoint or a GGUF file does not).
type Encoder interface {
	// VocabSize is the number of prediction scores per position.
	VocabSize() int
	// Encode runs ids and token types (B, T) with lens (B) real tokens per
	// row (right padding; nil: all T) and returns the encoder's output (B,
	// T, hidden), valid until the next call.
	Encode(ids, types []int32, lens []int, B, T int) ([]float32, error)
	// Forward runs Encode and the masked-LM head, writing the scores (B,
	// T, V); it returns an error when the model has no such head.
	Forward(ids, types []int32, lens []int, B, T int, scores []float32) error
}

// GenerationConfig holds the ids and defaults generation needs.
type GenerationConfig struct {
	BOS    int   // -1: none
	AddBOS bool  // prepend BOS to prompts
	EOS    []int // stop ids
	// Defaults from generation_config.json; nil when unset. Source is
	// that file's path ("" when there is none), for errors about its values.
	Source            string
	Temperature       *float64
	TopK              *int
	TopP              *float64
	MinP              *float64
	RepetitionPenalty *float64
	MaxNewTokens      *int
	DoSample          *bool
}

// Info describes a loaded model for `loft info`.
type Info struct {
	Arch          string   `json:"architecture"`
	Format        string   `json:"format"` // "safetensors" or "gguf"
	Layers        int      `json:"layers"`
	Hidden        int      `json:"hidden_size"`
	Intermediate  int      `json:"intermediate_size"`
	Heads         int      `json:"heads"`
	KVHeads       int      `json:"kv_heads"`
	HeadDim       int      `json:"head_dim"`
	Vocab         int      `json:"vocab_size"`
	ContextLength int      `json:"context_length"`
	Params        int      `json:"parameters"`
	DType         string   `json:"dtype"`
	Tied          bool     `json:"tied_embeddings"`
	LinearModules []string `json:"linear_modules"`
}
