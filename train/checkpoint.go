package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/fileio"
	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/optim"
)

// Files of a checkpoint folder, beside the adapter's own
// (adapter_config.json, adapter_model.safetensors).
const (
	stateFile     = "trainer_state.json"
	optimizerFile = "optimizer.safetensors"
	configFile    = "config.json"
	adapterFile   = "adapter_model.safetensors"
	stateFormat   = "loft-trainer-state-1"
)

// Point is one loss on the curve.
type Point struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// history is every step's training loss and every validation loss.
type history struct {
	Train []Point `json:"train"`
	Val   []Point `json:"val"`
}

// trainerState is trainer_state.json: where the run is. With the adapter
// and the optimizer moments it is all a resumed run needs.
type trainerState struct {
	Format       string            `json:"format"`
	Step         int               `json:"step"`          // optimizer steps done
	MicroBatches int               `json:"micro_batches"` // data position: micro-batches consumed over all epochs
	Tokens       int64             `json:"tokens"`
	ElapsedS     float64           `json:"elapsed_s"`
	OptimizerT   int               `json:"optimizer_t"`
	RNG          map[string][]byte `json:"rng,omitempty"` // MarshalBinary of each RNG (base64 in JSON)
	History      history           `json:"history"`
	Identity     map[string]any    `json:"identity"`
}

// CheckpointStep returns the step of a checkpoint folder's name,
// checkpoint-<digits>, and -1 for any other name.
func CheckpointStep(name string) int {
	d, ok := strings.CutPrefix(name, "checkpoint-")
	if !ok || d == "" || strings.Trim(d, "0123456789") != "" {
		return -1
	}
	n, err := strconv.Atoi(d)
	if err != nil {
		return -1
	}
	return n
}

// CheckpointDir returns OutDir/checkpoint-<step>.
func (t *Trainer) CheckpointDir(step int) string {
	return filepath.Join(t.Config.OutDir, "checkpoint-"+strconv.Itoa(step))
}

// SaveCheckpoint writes OutDir/checkpoint-<step>/ for the current step:
// the adapter, optimizer.safetensors (exp_avg and exp_avg_sq of each
// parameter, as torch names AdamW's state), trainer_state.json and
// config.json. It writes a temporary folder and renames it, so a
// checkpoint folder is either complete or absent.
func (t *Trainer) SaveCheckpoint() (string, error) {
	final := t.CheckpointDir(t.step)
	err := fileio.WriteDir(final, func(dir string) error {
		if err := t.SaveAdapter(dir); err != nil {
			return err
		}
		var ts []safetensors.Tensor
		for i, p := range t.Opt.Params {
			ts = append(ts,
				safetensors.Tensor{Name: p.Name + ".exp_avg", DType: safetensors.F32, Shape: []int{len(p.W)}, Values: t.Opt.M[i]},
				safetensors.Tensor{Name: p.Name + ".exp_avg_sq", DType: safetensors.F32, Shape: []int{len(p.W)}, Values: t.Opt.V[i]})
		}
		if err := safetensors.Write(filepath.Join(dir, optimizerFile), ts, map[string]string{"step": strconv.Itoa(t.Opt.T)}); err != nil {
			return err
		}
		st := trainerState{Format: stateFormat, Step: t.step, MicroBatches: t.pos, Tokens: t.tokens,
			ElapsedS: t.elapsedS(), OptimizerT: t.Opt.T, History: t.history, Identity: t.Identity}
		var err error
		if st.RNG, err = t.rngStates(); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(dir, stateFile), st); err != nil {
			return err
		}
		return writeJSON(filepath.Join(dir, configFile), t.Resolved)
	})
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	t.lastSave = final
	t.logf("saved checkpoint %s", final)
	return final, nil
}

// FindCheckpoint returns dir when it is a checkpoint folder, else the
// checkpoint-<step> folder with the highest step inside dir.
func FindCheckpoint(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	best, bestStep := "", -1
	for _, e := range entries {
		s := CheckpointStep(e.Name())
		if s < 0 || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), stateFile)); err == nil && s > bestStep {
			best, bestStep = filepath.Join(dir, e.Name()), s
		}
	}
	if best == "" {
		return "", fmt.Errorf("resume: %s is not a checkpoint (no %s) and holds no checkpoint-<step> folder", dir, stateFile)
	}
	return best, nil
}

// Resume loads the checkpoint dir (a checkpoint folder, or a folder holding
// checkpoint-<step> folders, the latest of which is taken) into the
// trainer: parameters, optimizer moments, step, data position, RNG states
// and history. A checkpoint whose Identity differs from the trainer's is
// an error naming every differing setting. It returns the folder used.
func (t *Trainer) Resume(dir string) (string, error) {
	dir, err := FindCheckpoint(dir)
	if err != nil {
		return "", err
	}
	var st trainerState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return "", fmt.Errorf("resume: %s: %w", filepath.Join(dir, stateFile), jsonerr.Describe(b, err))
	}
	if st.Format != stateFormat {
		return "", fmt.Errorf("resume: %s: format %q, want %q", filepath.Join(dir, stateFile), st.Format, stateFormat)
	}
	if st.Step < 0 || st.MicroBatches < 0 || st.OptimizerT < 0 || st.Tokens < 0 {
		return "", fmt.Errorf("resume: %s: negative step %d, micro_batches %d, optimizer_t %d or tokens %d", filepath.Join(dir, stateFile),
			st.Step, st.MicroBatches, st.OptimizerT, st.Tokens)
	}
	if diff, err := identityDiff(st.Identity, t.Identity); err != nil {
		return "", fmt.Errorf("resume: %w", err)
	} else if len(diff) > 0 {
		return "", fmt.Errorf("resume: %s was saved by a run with another configuration: %s", dir, strings.Join(diff, "; "))
	}
	if st.Step > t.Config.Steps {
		return "", fmt.Errorf("resume: %s is at step %d, past this run's %d steps", dir, st.Step, t.Config.Steps)
	}
	for name := range t.RNGs {
		if _, ok := st.RNG[name]; !ok {
			return "", fmt.Errorf("resume: %s has no state for the %s random source", dir, name)
		}
	}
	// Read everything before changing anything.
	weights, err := readParams(filepath.Join(dir, adapterFile), t.Params, "")
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	m, err := readParams(filepath.Join(dir, optimizerFile), t.Params, ".exp_avg")
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	v, err := readParams(filepath.Join(dir, optimizerFile), t.Params, ".exp_avg_sq")
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	if err := t.setRNGs(st.RNG); err != nil {
		return "", fmt.Errorf("resume: %s: %w", dir, err)
	}
	for i, p := range t.Params {
		copy(p.W, weights[i])
		copy(t.Opt.M[i], m[i])
		copy(t.Opt.V[i], v[i])
	}
	t.Opt.T = st.OptimizerT
	t.step, t.pos, t.tokens, t.elapsed = st.Step, st.MicroBatches, st.Tokens, st.ElapsedS
	t.history = st.History
	t.lastSave = dir
	return dir, nil
}

// readParams reads, for every parameter, the F32 tensor named
// Name+suffix from the safetensors file path, checking its length.
func readParams(path string, params []optim.Param, suffix string) ([][]float32, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([][]float32, len(params))
	var missing []string
	for i, p := range params {
		name := p.Name + suffix
		if _, ok := f.Info(name); !ok {
			missing = append(missing, name)
			continue
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(v) != len(p.W) {
			return nil, fmt.Errorf("%s: tensor %s holds %d values, the parameter %d (another LoRA rank or model?)", path, name, len(v), len(p.W))
		}
		out[i] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %d tensors (another target set or model?): %s", path, len(missing), strings.Join(first(missing, 5), ", "))
	}
	return out, nil
}

// first returns at most n items of s, with "..." when it cut.
func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), "...")
}

// identityDiff lists "key: checkpoint X, now Y" for every setting that
// differs, comparing both maps after a JSON round trip (so 8 and 8.0 agree).
func identityDiff(saved, now map[string]any) ([]string, error) {
	norm := func(m map[string]any) (map[string]any, error) {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		var out map[string]any
		return out, json.Unmarshal(b, &out)
	}
	a, err := norm(saved)
	if err != nil {
		return nil, err
	}
	b, err := norm(now)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diff []string
	for _, k := range slices.Sorted(mapKeys(keys)) {
		if !reflect.DeepEqual(a[k], b[k]) {
			diff = append(diff, fmt.Sprintf("%s: checkpoint %s, now %s", k, show(a[k]), show(b[k])))
		}
	}
	return diff, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func show(v any) string {
	if v == nil {
		return "(unset)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// writeJSON writes v as indented JSON to path, atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fileio.WriteFile(path, append(b, '\n'))
}

// saveFinal writes the adapter and loss.png into OutDir: each file is
// written in a temporary folder, then renamed into place.
func (t *Trainer) saveFinal() error {
	out := t.Config.OutDir
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(out, ".final.tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := t.SaveAdapter(tmp); err != nil {
		return fmt.Errorf("saving the adapter in %s: %w", out, err)
	}
	if err := plotLoss(filepath.Join(tmp, "loss.png"), t.history); err != nil {
		return fmt.Errorf("loss curve: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

var errNoPoints = errors.New("no losses to plot")
