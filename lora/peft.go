package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/fileio"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/nn"
)

// PEFT's adapter file names.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// peftConfig is adapter_config.json as PEFT's LoraConfig writes it (the
// fields loft reads or writes).
type peftConfig struct {
	PeftType          string          `json:"peft_type"`
	TaskType          string          `json:"task_type"`
	BaseModel         string          `json:"base_model_name_or_path"`
	R                 int             `json:"r"`
	Alpha             float64         `json:"lora_alpha"`
	Dropout           float64         `json:"lora_dropout"`
	TargetModules     json.RawMessage `json:"target_modules"` // list or regex string
	ExcludeModules    json.RawMessage `json:"exclude_modules,omitempty"`
	LayersToTransform json.RawMessage `json:"layers_to_transform"` // null, int or list
	LayersPattern     json.RawMessage `json:"layers_pattern"`
	UseRSLoRA         bool            `json:"use_rslora"`
	UseDoRA           bool            `json:"use_dora"`
	FanInFanOut       bool            `json:"fan_in_fan_out"`
	Bias              string          `json:"bias"`
	ModulesToSave     []string        `json:"modules_to_save"`
	InitLoraWeights   json.RawMessage `json:"init_lora_weights"`
	RankPattern       json.RawMessage `json:"rank_pattern"` // read by toConfig into ranks
	AlphaPattern      json.RawMessage `json:"alpha_pattern"`
	InferenceMode     bool            `json:"inference_mode"`
	Revision          *string         `json:"revision"`
	// Newer PEFT features loft cannot apply; refused when set.
	LoraBias              bool            `json:"lora_bias"`
	UseQALoRA             bool            `json:"use_qalora"`
	TargetParameters      json.RawMessage `json:"target_parameters"`
	TrainableTokenIndices json.RawMessage `json:"trainable_token_indices"`
	LayerReplication      json.RawMessage `json:"layer_replication"`
	AloraInvocationTokens json.RawMessage `json:"alora_invocation_tokens"`

	ranks  pattern[int]     // rank_pattern, set by toConfig
	alphas pattern[float64] // alpha_pattern, set by toConfig
}

// isSet reports whether an optional JSON field holds something: not
// absent, null, an empty list or an empty object.
func isSet(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", "[]", "{}":
		return false
	}
	return true
}

// Save writes the adapter into dir (created if needed) in PEFT's format:
// adapter_config.json and adapter_model.safetensors (F32, PEFT keys,
// metadata {"format": "pt"}), each written atomically (temporary file,
// then rename). baseModel is recorded as base_model_name_or_path.
func (a *Adapter) Save(dir, baseModel string) error {
	if a.merged {
		return errors.New("lora: cannot save an adapter after Merge or Remove")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	var ts []safetensors.Tensor
	for _, l := range a.Modules {
		ts = append(ts,
			safetensors.Tensor{Name: KeyA(l.Name), DType: safetensors.F32, Shape: []int{l.R, l.base.In}, Values: l.A},
			safetensors.Tensor{Name: KeyB(l.Name), DType: safetensors.F32, Shape: []int{l.base.Out, l.R}, Values: l.B})
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	buf, err := a.configJSON(baseModel)
	if err != nil {
		return err
	}
	if err := fileio.WriteFile(filepath.Join(dir, ConfigFile), buf); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	return nil
}

// configJSON renders adapter_config.json. Modules whose rank or alpha
// differ from the config's (an adapter loaded with patterns) go into
// rank_pattern/alpha_pattern under their full names.
func (a *Adapter) configJSON(baseModel string) ([]byte, error) {
	c := &a.Config
	var targets any = c.Targets
	switch {
	case c.TargetRegex != "":
		targets = c.TargetRegex
	case len(c.Targets) == 1 && c.Targets[0] == AllLinear:
		// PEFT saves all-linear expanded to the module names it chose.
		var names []string
		for _, l := range a.Modules {
			n := l.Name[strings.LastIndex(l.Name, ".")+1:]
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		targets = names
	}
	init := any(true)
	if c.InitGaussian {
		init = "gaussian"
	}
	var layers any
	if len(c.Layers) > 0 {
		layers = c.Layers
	}
	var exclude any
	if len(c.Exclude) > 0 {
		exclude = c.Exclude
	}
	var revision any
	if a.BaseRevision != "" {
		revision = a.BaseRevision
	}
	ranks, alphas := map[string]int{}, map[string]float64{}
	for _, l := range a.Modules {
		if l.R != c.R {
			ranks[l.Name] = l.R
		}
		if l.Alpha != c.Alpha {
			alphas[l.Name] = l.Alpha
		}
	}
	// An ordered map: PEFT's field names, in a stable order.
	out := []struct {
		k string
		v any
	}{
		{"alpha_pattern", alphas},
		{"base_model_name_or_path", baseModel},
		{"bias", "none"},
		{"exclude_modules", exclude},
		{"fan_in_fan_out", a.FanInFanOut},
		{"inference_mode", true},
		{"init_lora_weights", init},
		{"layers_pattern", nil},
		{"layers_to_transform", layers},
		{"lora_alpha", c.Alpha},
		{"lora_dropout", c.Dropout},
		{"modules_to_save", nil},
		{"peft_type", "LORA"},
		{"r", c.R},
		{"rank_pattern", ranks},
		{"revision", revision},
		{"target_modules", targets},
		{"task_type", "CAUSAL_LM"},
		{"use_dora", false},
		{"use_rslora", c.RSLoRA},
	}
	// exclude_modules is newer than the rest (PEFT 0.14): written only
	// when set, so older PEFT versions still read the file.
	out = slices.DeleteFunc(out, func(f struct {
		k string
		v any
	}) bool {
		return f.k == "exclude_modules" && f.v == nil
	})
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range out {
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, fmt.Errorf("lora: adapter_config.json field %s: %w", f.k, err)
		}
		fmt.Fprintf(&b, "  %q: %s", f.k, v)
		if i < len(out)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// wrapperPrefixes are the path prefixes under which a head model (GPT-2's
// GPT2LMHeadModel, Llama's LlamaForCausalLM, BertForMaskedLM) holds its
// base model, whose own module names (PEFT's, for an adapter made on
// AutoModel) lack them.
var wrapperPrefixes = []string{"transformer.", "model.", "bert."}

// checkAdapterDir says what to give instead when dir is not an adapter
// folder but one of its files, or a training run's folder that holds only
// checkpoints (a run stopped before its end).
func checkAdapterDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("lora: adapter: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("lora: adapter %s is a file; give the adapter's folder, which holds %s and %s", dir, ConfigFile, WeightsFile)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil
	}
	// ReadDir, not Glob: a folder named run[2] is no pattern.
	ents, _ := os.ReadDir(dir)
	var cks []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name(), ConfigFile)
		if _, err := os.Stat(p); err == nil && strings.HasPrefix(e.Name(), "checkpoint-") {
			cks = append(cks, p)
		}
	}
	if len(cks) == 0 {
		return nil // Load's own error names the missing file
	}
	step := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "checkpoint-"))
		return n
	}
	slices.SortFunc(cks, func(a, b string) int { return step(a) - step(b) })
	return fmt.Errorf("lora: %s has no %s, but holds checkpoints of a training run: give one of them, such as %s", dir, ConfigFile, filepath.Dir(cks[len(cks)-1]))
}

// loraKeyRE splits a PEFT LoRA tensor name into module path and matrix,
// with or without the adapter-name segment ("lora_A.default.weight").
var loraKeyRE = regexp.MustCompile(`^(?:base_model\.model\.)?(.+)\.(lora_A|lora_B)(?:\.[A-Za-z0-9_\-]+)?\.weight$`)

// Load reads a PEFT LoRA adapter from dir (adapter_config.json and
// adapter_model.safetensors with F32, F16 or BF16 tensors) and applies it
// to slots. lora_alpha, use_rslora, rank_pattern and alpha_pattern are
// honoured. It refuses, naming the field or tensor, what loft does not
// support (DoRA, trained biases, modules_to_save, embedding LoRA) and
// adapters that do not fit the model (unknown modules, wrong shapes).
// Nothing is applied when it fails. The adapter starts in evaluation mode.
func Load(dir string, slots []nn.Slot) (*Adapter, error) {
	if err := checkAdapterDir(dir); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	var pc peftConfig
	if err := json.Unmarshal(data, &pc); err != nil {
		return nil, fmt.Errorf("lora: %s: %v", cfgPath, jsonerr.Describe(data, err))
	}
	cfg, err := pc.toConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	wPath := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(wPath); err != nil {
		if _, berr := os.Stat(filepath.Join(dir, "adapter_model.bin")); berr == nil {
			return nil, fmt.Errorf("lora: %s holds adapter_model.bin (a pickle); loft reads only %s", dir, WeightsFile)
		}
		return nil, fmt.Errorf("lora: %w", err)
	}
	f, err := safetensors.Open(wPath)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	defer f.Close()

	bySlot := map[string]nn.Slot{}
	for _, s := range slots {
		bySlot[s.Name] = s
	}
	type pair struct{ a, b, peft string } // peft: the module's name in PEFT's model
	mods := map[string]*pair{}
	for _, name := range f.Names() {
		switch {
		case strings.Contains(name, "lora_embedding_"):
			return nil, fmt.Errorf("lora: %s: tensor %q is an embedding LoRA, which loft does not support", wPath, name)
		case strings.Contains(name, "lora_magnitude_vector"):
			return nil, fmt.Errorf("lora: %s: tensor %q is a DoRA magnitude, which loft does not support", wPath, name)
		}
		m := loraKeyRE.FindStringSubmatch(name)
		if m == nil && strings.HasSuffix(name, ".bias") && pc.Bias != "" && pc.Bias != "none" {
			// bias "all" or "lora_only" saves the trained biases beside A
			// and B (get_peft_model_state_dict); a model without biases
			// has none, and the adapter is then plain LoRA.
			return nil, fmt.Errorf("lora: %s: tensor %q is a bias trained with bias %q, which loft does not support (it applies LoRA A and B to unchanged base weights)", wPath, name, pc.Bias)
		}
		if m == nil {
			return nil, fmt.Errorf("lora: %s: tensor %q is not a LoRA A or B weight (loft supports LoRA on linear layers only)", wPath, name)
		}
		mod := m[1]
		if _, ok := bySlot[mod]; !ok {
			// An adapter made on the bare decoder or encoder (AutoModel:
			// GPT2Model, LlamaModel, BertModel) names its modules without
			// the head model's wrapper.
			i := slices.IndexFunc(wrapperPrefixes, func(p string) bool { _, ok := bySlot[p+mod]; return ok })
			if i < 0 {
				return nil, fmt.Errorf("lora: %s: tensor %q: module %s is not a linear layer of this model (an adapter for another architecture or layer count?)%s",
					wPath, name, mod, examplePath(slots))
			}
			mod = wrapperPrefixes[i] + mod
		}
		p := mods[mod]
		if p == nil {
			p = &pair{peft: m[1]}
			mods[mod] = p
		}
		// Two names for one matrix (with and without the wrapper prefix,
		// or two adapter names) would leave one of them unread.
		dst := &p.b
		if m[2] == "lora_A" {
			dst = &p.a
		}
		if *dst != "" {
			return nil, fmt.Errorf("lora: %s: tensors %q and %q are both %s of module %s", wPath, *dst, name, m[2], mod)
		}
		*dst = name
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("lora: %s holds no LoRA tensors", wPath)
	}
	a := newAdapter(cfg)
	var mk []*Linear
	var ms []nn.Slot
	for _, s := range slots { // slot order, whatever the file's order
		p := mods[s.Name]
		if p == nil {
			continue
		}
		if p.a == "" || p.b == "" {
			return nil, fmt.Errorf("lora: %s: module %s has only one of lora_A and lora_B", wPath, s.Name)
		}
		if s.Head {
			return nil, fmt.Errorf("lora: %s: module %s is the output head, which loft cannot adapt", wPath, s.Name)
		}
		base, ok := (*s.Layer).(*nn.Linear)
		if !ok {
			return nil, fmt.Errorf("lora: module %s already holds an adapter", s.Name)
		}
		ia, _ := f.Info(p.a)
		ib, _ := f.Info(p.b)
		if len(ia.Shape) != 2 || ia.Shape[1] != base.In {
			return nil, fmt.Errorf("lora: %s: tensor %q has shape %v, the model's %s needs (r, %d)", wPath, p.a, ia.Shape, s.Name, base.In)
		}
		r := ia.Shape[0]
		if len(ib.Shape) != 2 || ib.Shape[0] != base.Out || ib.Shape[1] != r {
			return nil, fmt.Errorf("lora: %s: tensor %q has shape %v, the model's %s with r = %d needs [%d %d]", wPath, p.b, ib.Shape, s.Name, r, base.Out, r)
		}
		// PEFT matched the patterns against its own module names.
		if want := pc.ranks.lookup(p.peft, pc.R); r != want {
			return nil, fmt.Errorf("lora: %s: tensor %q has rank %d, %s says %d for %s", wPath, p.a, r, cfgPath, want, s.Name)
		}
		l := newLinear(s.Name, base, r, pc.alphas.lookup(p.peft, pc.Alpha), cfg.RSLoRA, cfg.Dropout, a.st)
		if l.A, err = f.Float32(p.a); err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
		if l.B, err = f.Float32(p.b); err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
		mk, ms = append(mk, l), append(ms, s)
	}
	for i, l := range mk {
		a.add(ms[i], l)
	}
	if pc.Revision != nil {
		a.BaseRevision = *pc.Revision
	}
	return a, nil
}

// toConfig checks the PEFT fields loft cannot honour and converts the rest.
func (pc *peftConfig) toConfig(path string) (Config, error) {
	var c Config
	switch {
	case pc.PeftType != "LORA":
		return c, fmt.Errorf("lora: %s: peft_type %q is not LORA", path, pc.PeftType)
	case pc.UseDoRA:
		return c, fmt.Errorf("lora: %s: use_dora is true; loft does not support DoRA adapters", path)
	case pc.Bias != "" && pc.Bias != "none" && pc.Bias != "all" && pc.Bias != "lora_only":
		return c, fmt.Errorf("lora: %s: bias %q is not one of PEFT's \"none\", \"all\", \"lora_only\"", path, pc.Bias)
	case len(pc.ModulesToSave) > 0:
		return c, fmt.Errorf("lora: %s: modules_to_save %q (fully trained modules) is not supported", path, pc.ModulesToSave)
	case pc.LoraBias:
		return c, fmt.Errorf("lora: %s: lora_bias is true (a trained bias on lora_B); loft does not support it", path)
	case pc.UseQALoRA:
		return c, fmt.Errorf("lora: %s: use_qalora is true; loft does not support QA-LoRA adapters", path)
	case isSet(pc.TargetParameters):
		return c, fmt.Errorf("lora: %s: target_parameters %s (LoRA on parameters such as MoE experts) is not supported", path, pc.TargetParameters)
	case isSet(pc.TrainableTokenIndices):
		return c, fmt.Errorf("lora: %s: trainable_token_indices (trained embedding rows) is not supported", path)
	case isSet(pc.LayerReplication):
		return c, fmt.Errorf("lora: %s: layer_replication (a model with repeated layers) is not supported", path)
	case isSet(pc.AloraInvocationTokens):
		return c, fmt.Errorf("lora: %s: alora_invocation_tokens is set (an activated LoRA, applied only after those tokens) is not supported", path)
	case pc.R < 1:
		return c, fmt.Errorf("lora: %s: r must be a positive integer, got %d", path, pc.R)
	case !(pc.Dropout >= 0 && pc.Dropout < 1):
		return c, fmt.Errorf("lora: %s: lora_dropout must be in [0, 1), got %v", path, pc.Dropout)
	case !(pc.Alpha > 0) || math.IsInf(pc.Alpha, 0):
		return c, fmt.Errorf("lora: %s: lora_alpha must be positive, got %v", path, pc.Alpha)
	}
	c = Config{R: pc.R, Alpha: pc.Alpha, Dropout: pc.Dropout, RSLoRA: pc.UseRSLoRA}
	if len(pc.TargetModules) > 0 && !bytes.Equal(pc.TargetModules, []byte("null")) {
		var one string
		if err := json.Unmarshal(pc.TargetModules, &one); err == nil {
			c.TargetRegex = one
		} else if err := json.Unmarshal(pc.TargetModules, &c.Targets); err != nil {
			return c, fmt.Errorf("lora: %s: target_modules must be a list of names or a string: %v", path, err)
		}
	}
	if len(pc.ExcludeModules) > 0 {
		// A list round-trips; a regex string (also PEFT's) only documents
		// what was left out: the tensors present decide what is applied.
		_ = json.Unmarshal(pc.ExcludeModules, &c.Exclude)
	}
	if l := pc.LayersToTransform; len(l) > 0 && !bytes.Equal(l, []byte("null")) {
		var one int
		if err := json.Unmarshal(l, &one); err == nil {
			c.Layers = []int{one}
		} else if err := json.Unmarshal(l, &c.Layers); err != nil {
			return c, fmt.Errorf("lora: %s: layers_to_transform must be an int or a list: %v", path, err)
		}
	}
	// PiSSA, OLoRA, CorDA, LoftQ and LoRA-GA start from a changed base
	// (its residual or quantised weights): until PEFT converts such an
	// adapter on saving (path_initial_model_for_weight_conversion, which
	// writes init_lora_weights true), it does not apply to the original
	// weights. Kaiming (true), false, gaussian, EVA and orthogonal
	// (LoraLayer.orthogonal_init sets A and B only) leave the base as is.
	switch init := string(bytes.TrimSpace(pc.InitLoraWeights)); init {
	case "", "null", "true", "false", `"eva"`, `"orthogonal"`:
	case `"gaussian"`:
		c.InitGaussian = true
	default:
		return c, fmt.Errorf("lora: %s: init_lora_weights %s: loft applies adapters to the unchanged base weights, which this initialisation replaces (save it from PEFT with path_initial_model_for_weight_conversion to get a plain LoRA adapter); supported: true, false, \"gaussian\", \"eva\", \"orthogonal\"", path, init)
	}
	var err error
	if pc.ranks, err = parsePattern[int](pc.RankPattern, path, "rank_pattern"); err != nil {
		return c, err
	}
	if pc.alphas, err = parsePattern[float64](pc.AlphaPattern, path, "alpha_pattern"); err != nil {
		return c, err
	}
	for _, e := range pc.ranks {
		if e.v < 1 {
			return c, fmt.Errorf("lora: %s: rank_pattern %q: rank must be a positive integer, got %d", path, e.key, e.v)
		}
	}
	for _, e := range pc.alphas {
		if !(e.v > 0) || math.IsInf(e.v, 0) {
			return c, fmt.Errorf("lora: %s: alpha_pattern %q: lora_alpha must be positive, got %v", path, e.key, e.v)
		}
	}
	return c, nil
}

// pattern is a rank_pattern or alpha_pattern object with its keys in the
// file's order: PEFT's get_pattern_key tries the keys in dict order (the
// JSON order) and the first that matches wins, so the order decides
// between overlapping keys ("q_proj" and "layers\.0\.self_attn\.q_proj").
type pattern[V any] []patternEntry[V]

type patternEntry[V any] struct {
	key string
	re  *regexp.Regexp
	v   V
}

// parsePattern reads the JSON object raw (absent or null: empty) keeping
// its key order, and builds each key's matcher, PEFT's
// re.match(rf"(.*\.)?({key})$", module_name): the key matches the end of
// the name after a dot, or the whole name.
func parsePattern[V any](raw json.RawMessage, path, field string) (pattern[V], error) {
	if !isSet(raw) {
		return nil, nil
	}
	bad := func(format string, args ...any) (pattern[V], error) {
		return nil, fmt.Errorf("lora: %s: %s: %s", path, field, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil {
		return bad("%v", err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad("want an object of module-name patterns, got %s", jsonKindOf(raw))
	}
	var p pattern[V]
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		key, _ := kt.(string) // object keys are strings
		var v V
		if err := dec.Decode(&v); err != nil {
			return bad("key %q: %v", key, err)
		}
		re, err := regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`)
		if err != nil {
			return bad("key %q: %v", key, err)
		}
		p = append(p, patternEntry[V]{key: key, re: re, v: v})
	}
	return p, nil
}

// jsonKindOf names the kind of a JSON value for messages.
func jsonKindOf(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '[':
		return "a list"
	case b[0] == '"':
		return "a string"
	}
	return "a scalar"
}

// lookup returns the value of the first key that matches module, else def.
func (p pattern[V]) lookup(module string, def V) V {
	for _, e := range p {
		if e.re.MatchString(module) {
			return e.v
		}
	}
	return def
}

// examplePath returns ", the model's modules look like <first slot>", or
// nothing for a model without slots.
func examplePath(slots []nn.Slot) string {
	if len(slots) == 0 {
		return ""
	}
	return "; the model's modules look like " + slots[0].Name
}
