package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/loftml/loft/format/gguf"
	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/model/bert"
	"github.com/loftml/loft/model/gpt2"
	"github.com/loftml/loft/model/internal/ckpt"
	"github.com/loftml/loft/model/llama"
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

// Load reads a model from path: a Hugging Face folder (config.json,
// safetensors, tokenizer and generation files) or a .gguf file.
func Load(path string, opts LoadOptions) (*Bundle, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !st.IsDir() {
		if strings.EqualFold(filepath.Ext(path), ".gguf") {
			return loadGGUF(path)
		}
		return nil, fmt.Errorf("model: %s is neither a model folder nor a .gguf file", path)
	}
	return loadDir(path)
}

// hfConfig holds the config.json fields read before the architecture's own.
type hfConfig struct {
	ModelType  string          `json:"model_type"`
	BOS        json.RawMessage `json:"bos_token_id"`
	EOS        json.RawMessage `json:"eos_token_id"`
	TorchDType string          `json:"torch_dtype"`
}

func loadDir(dir string) (*Bundle, error) {
	cfgPath := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	var hc hfConfig
	if err := json.Unmarshal(data, &hc); err != nil {
		return nil, fmt.Errorf("model: %s: %v", cfgPath, jsonerr.Describe(data, err))
	}
	b := &Bundle{Path: dir}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer set.Close()
	src := ckpt.Safetensors(set, dir)
	switch hc.ModelType {
	case "llama", "mistral", "qwen2", "qwen3":
		c, err := llama.ParseConfig(data, cfgPath)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := b.setLlama(c, src, cfgPath, false); err != nil {
			return nil, err
		}
	case "gpt2":
		c, err := gpt2.ParseConfig(data, cfgPath)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := b.setGPT2(c, src, cfgPath); err != nil {
			return nil, err
		}
	case "bert":
		c, err := bert.ParseConfig(data, cfgPath)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := b.setBERT(c, src, cfgPath); err != nil {
			return nil, err
		}
	case "":
		return nil, fmt.Errorf("model: %s: missing field model_type", cfgPath)
	default:
		return nil, fmt.Errorf("model: %s: unsupported model_type %q (supported: llama, mistral, qwen2, qwen3, gpt2, bert)", cfgPath, hc.ModelType)
	}
	b.Info.Format = "safetensors"
	b.Info.DType = ckpt.DTypes(src)

	if hasAny(dir, "tokenizer.json", "vocab.json", "tokenizer.model") {
		tok, err := tokenizer.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		b.Tokenizer = tok
	}
	var chatCfg *chat.Config
	if hasAny(dir, chat.ConfigFile, chat.TemplateFile) {
		chatCfg, err = chat.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if chatCfg.Templates != nil {
			b.Chat = chatCfg
		}
	}
	if err := b.genConfigDir(dir, hc, chatCfg); err != nil {
		return nil, err
	}
	return b, nil
}

func hasAny(dir string, names ...string) bool {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// checkSize refuses a config that describes far more weights than src
// holds, before the model allocates them: a config.json or GGUF header that
// lies about sizes must give an error, not exhaust memory. need counts only
// the weight matrices and embeddings (no norms, biases or tied copies), so
// a genuine checkpoint holds at least that many values. The slack (twice
// the checkpoint, plus 2^24 values) leaves a checkpoint that merely lacks
// some tensors to ckpt.Fill, whose error lists them.
func checkSize(src ckpt.Source, cfgFile string, need float64, dims string) error {
	if have := ckpt.Elements(src); need > 2*have+1<<24 {
		return fmt.Errorf("model: %s: the config (%s) needs at least %.4g weight values, but the checkpoint %s holds only %.0f", cfgFile, dims, need, src.Path(), have)
	}
	return nil
}

func (b *Bundle) setLlama(c llama.Config, src ckpt.Source, cfgFile string, permuteQK bool) error {
	C, F, V := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.VocabSize)
	q, kv := float64(c.NumHeads*c.HeadDim), float64(c.NumKVHeads*c.HeadDim)
	need := V*C + float64(c.NumLayers)*(2*C*q+2*C*kv+3*C*F)
	if err := checkSize(src, cfgFile, need, fmt.Sprintf("hidden %d, intermediate %d, %d layers, %d heads of %d, %d KV heads, vocab %d",
		c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.HeadDim, c.NumKVHeads, c.VocabSize)); err != nil {
		return err
	}
	m, err := llama.New(c)
	if err != nil {
		return fmt.Errorf("model: %s: %w", src.Path(), err)
	}
	if err := m.Load(src, permuteQK); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	b.Arch = c.ModelType
	if b.Arch == "mistral" {
		b.Arch = "llama"
	}
	b.LM, b.Slots, b.Info = m, m.Slots(), llamaInfo(b.Arch, m)
	return nil
}

// llamaInfo describes a llama-family model; arch is the name to report.
func llamaInfo(arch string, m *llama.Model) Info {
	c := m.Config
	return Info{Arch: arch, Layers: c.NumLayers, Hidden: c.HiddenSize, Intermediate: c.IntermediateSize,
		Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: c.HeadDim, Vocab: c.VocabSize,
		ContextLength: c.MaxPositions, Params: m.NumParams(), Tied: c.Tied(), LinearModules: slotNames(m.Slots())}
}

// gpt2Info describes a GPT-2 model.
func gpt2Info(m *gpt2.Model) Info {
	c := m.Config
	return Info{Arch: "gpt2", Layers: c.NLayer, Hidden: c.NEmbd, Intermediate: c.Intermediate(),
		Heads: c.NHead, KVHeads: c.NHead, HeadDim: c.HeadDim(), Vocab: c.VocabSize,
		ContextLength: c.NPositions, Params: m.NumParams(), Tied: c.Tied(), LinearModules: slotNames(m.Slots())}
}

func (b *Bundle) setGPT2(c gpt2.Config, src ckpt.Source, cfgFile string) error {
	C, F := float64(c.NEmbd), float64(c.Intermediate())
	need := float64(c.VocabSize+c.NPositions)*C + float64(c.NLayer)*(4*C*C+2*C*F)
	if !c.Tied() {
		need += float64(c.VocabSize) * C
	}
	if err := checkSize(src, cfgFile, need, fmt.Sprintf("n_embd %d, intermediate %d, n_layer %d, n_positions %d, vocab %d",
		c.NEmbd, c.Intermediate(), c.NLayer, c.NPositions, c.VocabSize)); err != nil {
		return err
	}
	m, err := gpt2.New(c)
	if err != nil {
		return fmt.Errorf("model: %s: %w", src.Path(), err)
	}
	if err := m.Load(src); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	b.Arch, b.LM, b.Slots, b.Info = "gpt2", m, m.Slots(), gpt2Info(m)
	return nil
}

func (b *Bundle) setBERT(c bert.Config, src ckpt.Source, cfgFile string) error {
	C, F := float64(c.HiddenSize), float64(c.IntermediateSize)
	need := float64(c.VocabSize+c.MaxPositions+c.TypeVocabSize)*C + float64(c.NumLayers)*(4*C*C+2*C*F)
	if err := checkSize(src, cfgFile, need, fmt.Sprintf("hidden %d, intermediate %d, %d layers, %d positions, vocab %d",
		c.HiddenSize, c.IntermediateSize, c.NumLayers, c.MaxPositions, c.VocabSize)); err != nil {
		return err
	}
	m, err := bert.New(c)
	if err != nil {
		return fmt.Errorf("model: %s: %w", cfgFile, err)
	}
	if err := m.Load(src); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	b.Arch, b.Encoder, b.Slots = "bert", m, m.Slots()
	b.Info = Info{Arch: "bert", Layers: c.NumLayers, Hidden: c.HiddenSize, Intermediate: c.IntermediateSize,
		Heads: c.NumHeads, KVHeads: c.NumHeads, HeadDim: c.HiddenSize / c.NumHeads, Vocab: c.VocabSize,
		ContextLength: c.MaxPositions, Params: m.NumParams(), Tied: m.MLM && c.Tied(), LinearModules: slotNames(b.Slots)}
	return nil
}

func slotNames(s []nn.Slot) []string {
	var ns []string
	for _, x := range s {
		ns = append(ns, x.Name)
	}
	return ns
}

// ids reads a token id field that may be absent, null, an int or a list.
func ids(raw json.RawMessage, file, field string) ([]int, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("model: %s: %s must be an id or a list of ids, got %s", file, field, s)
	}
	return many, nil
}

// genFile is generation_config.json.
type genFile struct {
	BOS               json.RawMessage `json:"bos_token_id"`
	EOS               json.RawMessage `json:"eos_token_id"`
	Temperature       *float64        `json:"temperature"`
	TopK              *int            `json:"top_k"`
	TopP              *float64        `json:"top_p"`
	RepetitionPenalty *float64        `json:"repetition_penalty"`
	MinP              *float64        `json:"min_p"`
	MaxNewTokens      *int            `json:"max_new_tokens"`
	DoSample          *bool           `json:"do_sample"`
}

// genConfigDir resolves BOS, EOS and sampling defaults: generation_config.json
// first, then config.json, then the tokenizer's special tokens.
func (b *Bundle) genConfigDir(dir string, hc hfConfig, cc *chat.Config) error {
	g := GenerationConfig{BOS: -1}
	cfgPath := filepath.Join(dir, "config.json")
	bos, err := ids(hc.BOS, cfgPath, "bos_token_id")
	if err != nil {
		return err
	}
	eos, err := ids(hc.EOS, cfgPath, "eos_token_id")
	if err != nil {
		return err
	}
	genPath := filepath.Join(dir, "generation_config.json")
	data, err := os.ReadFile(genPath)
	switch {
	case err == nil:
		var gf genFile
		if err := json.Unmarshal(data, &gf); err != nil {
			return fmt.Errorf("model: %s: %v", genPath, jsonerr.Describe(data, err))
		}
		if v, err := ids(gf.BOS, genPath, "bos_token_id"); err != nil {
			return err
		} else if v != nil {
			bos = v
		}
		if v, err := ids(gf.EOS, genPath, "eos_token_id"); err != nil {
			return err
		} else if v != nil {
			eos = v
		}
		g.Source = genPath
		g.Temperature, g.TopK, g.TopP = gf.Temperature, gf.TopK, gf.TopP
		g.MinP, g.RepetitionPenalty, g.MaxNewTokens, g.DoSample = gf.MinP, gf.RepetitionPenalty, gf.MaxNewTokens, gf.DoSample
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("model: %w", err)
	}
	if len(bos) > 0 {
		g.BOS = bos[0]
	}
	g.EOS = eos
	b.Gen = g
	b.finishGen(cc)
	return nil
}

// finishGen fills what the config files left unset from the tokenizer and
// decides AddBOS: tokenizer_config.json's add_bos_token when set, else
// whether the tokenizer's own post-processing adds BOS.
func (b *Bundle) finishGen(cc *chat.Config) {
	g := &b.Gen
	tok := b.Tokenizer
	if tok == nil {
		return
	}
	sp := tok.Specials()
	if g.BOS < 0 && sp.BOS >= 0 {
		g.BOS = sp.BOS
	}
	if len(g.EOS) == 0 && sp.EOS >= 0 {
		g.EOS = []int{sp.EOS}
	}
	switch {
	case g.BOS < 0:
		g.AddBOS = false
	case cc != nil && cc.AddBOSToken != nil:
		g.AddBOS = *cc.AddBOSToken
	default:
		enc := tok.Encode("", true)
		g.AddBOS = len(enc) > 0 && enc[0] == g.BOS
	}
}

// loadGGUF reads a GGUF file: architecture from general.architecture,
// weights through the architecture's table, tokenizer and chat template
// from tokenizer.* metadata.
func loadGGUF(path string) (*Bundle, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	arch, err := f.String("general.architecture")
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	b := &Bundle{Path: path}
	src := ckpt.GGUF(f)
	switch arch {
	case "llama", "qwen2", "qwen3":
		c, err := llama.ConfigFromGGUF(f, arch)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if _, ok := f.Tensor("rope_freqs.weight"); ok {
			if c.RopeFreqs, err = f.Float32("rope_freqs.weight"); err != nil {
				return nil, fmt.Errorf("model: %w", err)
			}
			if len(c.RopeFreqs) != c.HeadDim/2 {
				return nil, fmt.Errorf("model: gguf %s: rope_freqs.weight has %d values, want head_dim/2 = %d", path, len(c.RopeFreqs), c.HeadDim/2)
			}
		}
		// Only llama.cpp's "llama" converter permutes q/k rows.
		if err := b.setLlama(c, src, "gguf "+path, arch == "llama"); err != nil {
			return nil, err
		}
	case "gpt2":
		c, err := gpt2.ConfigFromGGUF(f)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := b.setGPT2(c, src, "gguf "+path); err != nil {
			return nil, err
		}
	case "bert":
		c, err := bert.ConfigFromGGUF(f)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := b.setBERT(c, src, "gguf "+path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("model: gguf %s: unsupported general.architecture %q (supported: llama, qwen2, qwen3, gpt2, bert)", path, arch)
	}
	b.Info.Format = "gguf"
	b.Info.DType = ckpt.DTypes(src)
	if f.Has("tokenizer.ggml.model") && !ggufNoVocab(f) {
		tok, err := GGUFTokenizer(f)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		b.Tokenizer = tok
	}
	b.Gen = GenerationConfig{BOS: -1}
	if b.Tokenizer != nil {
		b.Gen.EOS = ggufStopIDs(f, b.Tokenizer.Specials().EOS)
	}
	b.finishGen(nil)
	if templates, err := ggufChatTemplates(f); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	} else if len(templates) > 0 && b.Tokenizer != nil {
		special := map[string]string{}
		sp := b.Tokenizer.Specials()
		for _, t := range []struct {
			name string
			id   int
		}{{"bos_token", sp.BOS}, {"eos_token", sp.EOS}, {"unk_token", sp.UNK}, {"pad_token", sp.PAD}} {
			if p, ok := b.Tokenizer.(*tokenizer.Pipeline); ok && t.id >= 0 {
				if s, ok := p.Token(t.id); ok {
					special[t.name] = s
				}
			}
		}
		b.Chat = chat.NewConfig(path, templates, special)
	}
	return b, nil
}

// ggufChatTemplateKey is the key of a GGUF file's chat template; the
// templates besides the default one are under ggufChatTemplateKey + "." +
// their name, as llama.cpp's gguf-py writes a tokenizer_config.json list of
// templates and llama_model_chat_template reads them.
const ggufChatTemplateKey = "tokenizer.chat_template"

// ggufChatTemplates returns the file's chat templates by name (the default
// one under chat.DefaultName), nil when it has none.
func ggufChatTemplates(f *gguf.File) (map[string]string, error) {
	var templates map[string]string
	for _, key := range f.Keys() {
		name := chat.DefaultName
		if key != ggufChatTemplateKey {
			var ok bool
			if name, ok = strings.CutPrefix(key, ggufChatTemplateKey+"."); !ok || name == "" {
				continue
			}
		}
		src, err := f.String(key)
		if err != nil {
			return nil, err
		}
		if templates == nil {
			templates = map[string]string{}
		}
		templates[name] = src
	}
	return templates, nil
}
