package lora

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/optim"
)

// Adapter is a set of LoRA modules placed in a model's slots.
type Adapter struct {
	Config  Config
	Modules []*Linear // in the model's slot order
	// FanInFanOut records that the base layers are Conv1D (GPT-2), whose
	// checkpoint weights are stored (in, out).
	FanInFanOut bool
	// BaseRevision is the revision (branch, tag or commit) of the base
	// model the adapter belongs to, saved as PEFT's "revision" (null when
	// empty), which PEFT's AutoPeftModel passes to from_pretrained with
	// base_model_name_or_path.
	BaseRevision string

	slots  []*nn.LinearLayer // where each module sits, for Merge and Remove
	st     *state
	merged bool // the base layers are back in the slots (Merge or Remove)
	folded bool // Merge added s·B·A to the base weights
}

// keyPrefix is PEFT's prefix of adapter tensor names
// (PeftModel.base_model.model).
const keyPrefix = "base_model.model."

// KeyA returns the PEFT tensor name of module's lora_A weight.
func KeyA(module string) string { return keyPrefix + module + ".lora_A.weight" }

// KeyB returns the PEFT tensor name of module's lora_B weight.
func KeyB(module string) string { return keyPrefix + module + ".lora_B.weight" }

// Apply wraps the slots that cfg targets in LoRA modules, initialised as
// PEFT does (A Kaiming-uniform with a = √5, or Gaussian; B zero) from
// cfg.Seed, and returns the adapter. A target that matches no module is an
// error naming the model's linear modules and the nearest one. The output
// head cannot be adapted.
func Apply(slots []nn.Slot, cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	picked, err := selectSlots(slots, &cfg)
	if err != nil {
		return nil, err
	}
	a := newAdapter(cfg)
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6c6f7261)) // init stream, apart from dropout's
	for _, s := range picked {
		base := (*s.Layer).(*nn.Linear)
		l := newLinear(s.Name, base, cfg.R, cfg.Alpha, cfg.RSLoRA, cfg.Dropout, a.st)
		if cfg.InitGaussian {
			// PEFT "gaussian": nn.init.normal_(lora_A.weight, std=1/r).
			nn.FillNormal(l.A, 1/float64(cfg.R), rng)
		} else {
			kaimingUniform(l.A, base.In, math.Sqrt(5), rng)
		}
		a.add(s, l)
	}
	return a, nil
}

// kaimingUniform fills w from U(-bound, bound) as torch's
// kaiming_uniform_(w, a) with fan_in mode and leaky_relu gain:
// gain = sqrt(2/(1+a²)), bound = gain·sqrt(3/fan_in). With a = √5 this is
// 1/sqrt(fan_in).
func kaimingUniform(w []float32, fanIn int, a float64, rng *rand.Rand) {
	gain := math.Sqrt(2 / (1 + a*a))
	bound := gain * math.Sqrt(3/float64(fanIn))
	for i := range w {
		w[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// dropoutStream separates the dropout generator's stream from the
// initialisation's for the same seed.
const dropoutStream = 0x64726f70

func newAdapter(cfg Config) *Adapter {
	pcg := rand.NewPCG(cfg.Seed, cfg.Seed^dropoutStream)
	return &Adapter{Config: cfg, st: &state{pcg: pcg, rng: rand.New(pcg)}}
}

// SeedDropout restarts the dropout generator from seed, as Apply seeds it
// from Config.Seed; for an adapter read with Load, whose files hold no
// seed, before training it.
func (a *Adapter) SeedDropout(seed uint64) {
	a.Config.Seed = seed
	a.st.pcg.Seed(seed, seed^dropoutStream)
}

func (a *Adapter) add(s nn.Slot, l *Linear) {
	if l.base.FanInFanOut {
		a.FanInFanOut = true
	}
	*s.Layer = l
	a.slots = append(a.slots, s.Layer)
	a.Modules = append(a.Modules, l)
}

// layerIndexRE finds a module's layer index as PEFT does by default
// (r".*\.[^.]*\.(\d+)\."): the number after the last "name." segment that
// is followed by more of the path.
var layerIndexRE = regexp.MustCompile(`^.*\.[^.]*\.(\d+)\.`)

func layerIndex(name string) (int, bool) {
	m := layerIndexRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	i, err := strconv.Atoi(m[1])
	return i, err == nil
}

// suffixMatch reports PEFT's list-target match: name equals t or ends with
// "." + t.
func suffixMatch(name, t string) bool {
	return name == t || strings.HasSuffix(name, "."+t)
}

// SelectError is an error of the module selection of a Config: Field
// names the setting at fault ("Targets", "TargetRegex", "Layers" or
// "Exclude"), so that a command can name its flag.
type SelectError struct {
	Field string
	Err   error
}

func (e *SelectError) Error() string { return e.Err.Error() }
func (e *SelectError) Unwrap() error { return e.Err }

// selectSlots returns the slots cfg adapts, in slot order, after checking
// every target matches something.
func selectSlots(slots []nn.Slot, cfg *Config) ([]nn.Slot, error) {
	var re *regexp.Regexp
	if cfg.TargetRegex != "" {
		re = regexp.MustCompile(`^(?:` + cfg.TargetRegex + `)$`) // re.fullmatch
	}
	if err := checkLayers(slots, cfg.Layers); err != nil {
		return nil, &SelectError{"Layers", err}
	}
	targets := "Targets"
	if re != nil {
		targets = "TargetRegex"
	}
	allLinear := len(cfg.Targets) == 1 && cfg.Targets[0] == AllLinear
	hit := make([]bool, len(cfg.Targets))
	var picked []nn.Slot
	for _, s := range slots {
		match := false
		switch {
		case re != nil:
			match = re.MatchString(s.Name)
		case allLinear:
			match = !s.Head
		default:
			for i, t := range cfg.Targets {
				if suffixMatch(s.Name, t) {
					match, hit[i] = true, true
				}
			}
		}
		if !match {
			continue
		}
		if s.Head {
			return nil, &SelectError{targets, fmt.Errorf("lora: target matches the output head %s, which loft cannot adapt (PEFT's all-linear leaves it out too)", s.Name)}
		}
		if slices.ContainsFunc(cfg.Exclude, func(e string) bool { return suffixMatch(s.Name, e) }) {
			continue
		}
		if len(cfg.Layers) > 0 {
			i, ok := layerIndex(s.Name)
			if !ok || !slices.Contains(cfg.Layers, i) {
				continue
			}
		}
		if _, ok := (*s.Layer).(*nn.Linear); !ok {
			return nil, fmt.Errorf("lora: module %s already holds an adapter", s.Name)
		}
		picked = append(picked, s)
	}
	if re == nil && !allLinear {
		for i, t := range cfg.Targets {
			if !hit[i] {
				return nil, &SelectError{targets, targetError(fmt.Sprintf("target %q matches no module", t), t, slots)}
			}
		}
	}
	if len(picked) == 0 {
		what := "the targets"
		if re != nil {
			msg := fmt.Sprintf("target regular expression %q matches no module name (it must match the whole name)", cfg.TargetRegex)
			if part := regexp.MustCompile(cfg.TargetRegex); slices.ContainsFunc(slots, func(s nn.Slot) bool { return part.MatchString(s.Name) }) {
				msg += fmt.Sprintf("; did you mean %q?", ".*"+cfg.TargetRegex)
			}
			return nil, &SelectError{targets, targetError(msg, "", slots)}
		}
		if len(cfg.Layers) > 0 {
			return nil, &SelectError{"Layers", fmt.Errorf("lora: %s match no module in layers %v", what, cfg.Layers)}
		}
		return nil, &SelectError{"Exclude", fmt.Errorf("lora: %s match no module once --exclude %q is applied", what, cfg.Exclude)}
	}
	return picked, nil
}

// checkLayers reports a requested layer index that no module of the model
// has (PEFT ignores it silently; a typo would then train fewer layers).
func checkLayers(slots []nn.Slot, layers []int) error {
	have := map[int]bool{}
	top := -1
	for _, s := range slots {
		if i, ok := layerIndex(s.Name); ok {
			have[i], top = true, max(top, i)
		}
	}
	for _, l := range layers {
		if !have[l] {
			return fmt.Errorf("lora: layer %d does not exist: the model's layers are 0-%d", l, top)
		}
	}
	return nil
}

// roles groups module names that play the same part in different
// architectures, so a name from one family suggests its counterpart in
// another (q_proj on GPT-2 suggests c_attn).
var roles = [][]string{
	{"q_proj", "k_proj", "v_proj", "c_attn", "query", "key", "value", "qkv_proj", "Wqkv", "query_key_value"},
	{"o_proj", "out_proj", "dense"},
	{"gate_proj", "up_proj", "c_fc", "fc1", "w1", "w3", "dense_h_to_4h"},
	{"down_proj", "c_proj", "fc2", "w2", "dense_4h_to_h"},
}

// targetError describes a target that matched nothing: the model's module
// names (the last path segment, as targets are usually given) and, for a
// name target, the nearest one.
func targetError(msg, target string, slots []nn.Slot) error {
	var names []string
	for _, s := range slots {
		if s.Head { // not a target (Apply refuses it)
			continue
		}
		n := s.Name[strings.LastIndex(s.Name, ".")+1:]
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var b strings.Builder
	b.WriteString("lora: " + msg)
	if target != "" {
		if near := nearest(target, names, slots); near != "" {
			fmt.Fprintf(&b, "; did you mean %q?", near)
		}
	}
	if !strings.HasSuffix(b.String(), "?") {
		b.WriteByte('.')
	}
	fmt.Fprintf(&b, " The model's linear modules: %s", strings.Join(names, ", "))
	if len(slots) > 0 {
		fmt.Fprintf(&b, " (full paths such as %s)", slots[0].Name)
	}
	return errors.New(b.String())
}

// nearest returns the model's module name closest to target: one of the
// same role when the target names a known role, else the smallest edit
// distance (last path segment of target compared).
func nearest(target string, names []string, slots []nn.Slot) string {
	short := target[strings.LastIndex(target, ".")+1:]
	for _, group := range roles {
		if !slices.Contains(group, short) {
			continue
		}
		for _, n := range names {
			if n != short && slices.Contains(group, n) {
				return n
			}
		}
	}
	best, bestD := "", math.MaxInt
	for _, n := range names {
		if d := editDistance(strings.ToLower(short), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if bestD > max(len(short), 3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Params returns the trainable tensors with their PEFT names, A before B
// for each module in slot order.
func (a *Adapter) Params() []optim.Param {
	var ps []optim.Param
	for _, l := range a.Modules {
		ps = append(ps, optim.Param{Name: KeyA(l.Name), W: l.A, G: l.DA}, optim.Param{Name: KeyB(l.Name), W: l.B, G: l.DB})
	}
	return ps
}

// ZeroGrad sets every gradient to zero.
func (a *Adapter) ZeroGrad() {
	for _, l := range a.Modules {
		clear(l.DA)
		clear(l.DB)
	}
}

// SetTraining turns dropout on (training) or off (evaluation, generation).
func (a *Adapter) SetTraining(on bool) { a.st.training = on }

// NumParams returns the number of trainable values.
func (a *Adapter) NumParams() int {
	n := 0
	for _, l := range a.Modules {
		n += len(l.A) + len(l.B)
	}
	return n
}

// RNGState returns the dropout generator's state, for checkpoints.
func (a *Adapter) RNGState() ([]byte, error) { return a.st.pcg.MarshalBinary() }

// SetRNGState restores a state from RNGState.
func (a *Adapter) SetRNGState(b []byte) error {
	if err := a.st.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("lora: dropout generator state: %w", err)
	}
	return nil
}

// Merge folds each module's s·B·A into its base weight and puts the base
// layer back in the slot: the model then computes the same function
// without the adapter. The adapter cannot be used afterwards.
func (a *Adapter) Merge() error {
	if a.merged {
		return errors.New("lora: adapter already merged or removed")
	}
	for i, l := range a.Modules {
		l.merge()
		*a.slots[i] = l.base
	}
	a.merged, a.folded = true, true
	return nil
}

// Remove puts the base layers back in their slots, unchanged.
func (a *Adapter) Remove() {
	if a.merged {
		return
	}
	for i, l := range a.Modules {
		*a.slots[i] = l.base
	}
	a.merged = true
}
