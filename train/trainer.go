package train

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/loftml/loft/model"
	"github.com/loftml/loft/optim"
)

// Config is what a run does, every value resolved (no zero-means-default).
type Config struct {
	Steps       int            // optimizer steps of the whole run
	GradAccum   int            // micro-batches per optimizer step (>= 1); an epoch's last step takes what is left
	MaxGradNorm float64        // clip the global gradient norm to this; 0 disables
	Schedule    optim.Schedule // learning rate per step
	EvalEvery   int            // validation every N steps; 0: only at the end
	SaveEvery   int            // checkpoint every N steps; 0: none (but on interruption)
	OutDir      string         // final adapter, loss curve and checkpoint-<step>/ folders
	MetricsPath string         // JSON lines; "": none
}

// RNG is a random source whose state a checkpoint keeps (math/rand/v2's
// PCG and ChaCha8 qualify), such as the one LoRA dropout draws from.
type RNG interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Trainer trains Params of Model on Train. Set the exported fields, then
// optionally Resume, then Run (or drive Step and Eval yourself).
type Trainer struct {
	Model  model.Trainable
	Params []optim.Param // the trainable tensors, PEFT names; Model's Backward fills their G
	Opt    *optim.AdamW  // over Params
	Train  Data
	Valid  Data // nil: no validation
	Config Config
	// SaveAdapter writes the adapter as Hugging Face PEFT does
	// (adapter_config.json, adapter_model.safetensors with Params' names)
	// into the existing folder dir.
	SaveAdapter func(dir string) error
	// RNGs are the random sources, besides the data order, that a resumed
	// run must continue from (LoRA dropout), by a stable name.
	RNGs map[string]RNG
	// Identity holds the settings a checkpoint must share with the run
	// resuming it (model, LoRA shape, data, batch shape, optimizer); any
	// value that encoding/json can write.
	Identity map[string]any
	// Resolved is the whole resolved configuration, written as
	// config.json into every checkpoint.
	Resolved any
	// SetTraining, when set, turns training behaviour (LoRA dropout) off
	// during Eval and back on after it.
	SetTraining func(on bool)
	// Progress receives the progress bar (stderr); nil: none.
	Progress io.Writer
	// Log receives messages (checkpoints saved); nil: none.
	Log io.Writer

	step     int       // optimizer steps done
	pos      int       // micro-batches consumed, over all epochs
	tokens   int64     // counted target tokens trained on
	elapsed  float64   // seconds of training in earlier processes (resume)
	runStart time.Time // when this Run began; zero outside Run
	bar      *bar      // the progress bar during Run
	history  history   // losses for the curve
	lastSave string    // the last checkpoint written or resumed from
}

// StepStats describes one optimizer step.
type StepStats struct {
	Step     int     // steps done, this one included (1-based)
	Loss     float64 // mean cross-entropy over the step's counted tokens, before the update
	GradNorm float64 // global gradient norm before clipping
	LR       float64 // learning rate of the update
	Tokens   int     // counted target tokens of the step
}

// NonFiniteError reports a NaN or infinite loss or gradient norm; the
// parameters were not updated by that step.
type NonFiniteError struct {
	Step  int // the 1-based step that produced it
	What  string
	Value float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("step %d: %s is %v", e.Step, e.What, e.Value)
}

// StepNum returns the number of optimizer steps done.
func (t *Trainer) StepNum() int { return t.step }

// Tokens returns the counted target tokens trained on so far.
func (t *Trainer) Tokens() int64 { return t.tokens }

// Step runs one optimizer step over the micro-batches, top to bottom:
// zero the gradients; forward and backward each micro-batch, the loss
// scaled by 1/(counted tokens of the whole step) so the step's loss is
// token-weighted across micro-batches; clip by global norm; AdamW with the
// schedule's learning rate for this step. A cancelled ctx stops between
// micro-batches and leaves the parameters as they were.
func (t *Trainer) Step(ctx context.Context, micro []Batch) (StepStats, error) {
	st := StepStats{Step: t.step + 1}
	if len(micro) == 0 {
		return st, errors.New("train: a step needs at least one micro-batch")
	}
	for _, b := range micro {
		if err := b.check(); err != nil {
			return st, err
		}
		st.Tokens += b.Count()
	}
	if st.Tokens == 0 {
		return st, fmt.Errorf("train: step %d: no counted target tokens in its %d micro-batches (every target is %d)", st.Step, len(micro), Ignore)
	}
	optim.ZeroGrad(t.Params)
	scale := float32(1 / float64(st.Tokens))
	var sum float64
	for i, b := range micro {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		s, n, err := t.Model.ForwardLoss(b.IDs, b.Targets, b.B, b.T)
		if err != nil {
			return st, fmt.Errorf("train: step %d, micro-batch %d: %w", st.Step, i, err)
		}
		if n != b.Count() {
			return st, fmt.Errorf("train: step %d, micro-batch %d: the model counted %d targets, the batch holds %d", st.Step, i, n, b.Count())
		}
		sum += s
		if err := t.Model.Backward(scale); err != nil {
			return st, fmt.Errorf("train: step %d, micro-batch %d: backward: %w", st.Step, i, err)
		}
	}
	st.Loss = sum / float64(st.Tokens)
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, &NonFiniteError{Step: st.Step, What: "the loss", Value: st.Loss}
	}
	st.GradNorm = optim.ClipGradNorm(t.Params, t.Config.MaxGradNorm)
	if math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return st, &NonFiniteError{Step: st.Step, What: "the gradient norm", Value: st.GradNorm}
	}
	st.LR = t.Config.Schedule.At(t.step)
	t.Opt.Step(st.LR)
	t.step++
	return st, nil
}

// Eval returns the token-weighted mean loss over every batch of d (epoch 0)
// and the number of counted tokens. Gradients are not touched.
func (t *Trainer) Eval(ctx context.Context, d Data) (loss float64, count int, err error) {
	if t.SetTraining != nil {
		t.SetTraining(false)
		defer t.SetTraining(true)
	}
	var sum float64
	for i := range d.Len() {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		b, err := d.Batch(0, i)
		if err != nil {
			return 0, 0, err
		}
		if err := b.check(); err != nil {
			return 0, 0, err
		}
		s, n, err := t.Model.EvalLoss(b.IDs, b.Targets, b.B, b.T)
		if err != nil {
			return 0, 0, fmt.Errorf("train: validation batch %d: %w", i, err)
		}
		sum += s
		count += n
	}
	if count == 0 {
		return 0, 0, errors.New("train: the validation set has no counted target tokens")
	}
	return sum / float64(count), count, nil
}

// StepsPerEpoch returns the optimizer steps of one epoch of batches
// micro-batches: batches/gradAccum full steps and one shorter step of the
// remainder, as nextMicro takes them.
func StepsPerEpoch(batches, gradAccum int) int {
	return (batches + gradAccum - 1) / gradAccum
}

// nextMicro returns the micro-batches of the next optimizer step: the next
// GradAccum of the epoch, or the fewer that are left at its end. A step
// never takes batches of the next epoch (whose shuffle would otherwise
// enter this one before its last batches are seen), as transformers'
// Trainer runs steps_in_epoch // gradient_accumulation_steps full steps and
// one shorter last step per epoch (huggingface/transformers#22098); Step
// normalises the loss by the counted tokens of whatever micro-batches it
// gets. The position stays a count of micro-batches, so a checkpoint
// restores it as before.
func (t *Trainer) nextMicro() ([]Batch, error) {
	n := t.Train.Len()
	if n < 1 {
		return nil, errors.New("train: the training set holds no batches")
	}
	epoch, i := t.pos/n, t.pos%n
	micro := make([]Batch, min(t.Config.GradAccum, n-i))
	for k := range micro {
		b, err := t.Train.Batch(epoch, i+k)
		if err != nil {
			return nil, err
		}
		micro[k] = b
	}
	return micro, nil
}

// Summary describes a finished (or stopped) run.
type Summary struct {
	Steps        int     // optimizer steps done in total
	Tokens       int64   // counted tokens trained on in total
	TokensPerSec float64 // counted tokens per second in this process
	Seconds      float64 // training time in this process
	ValLoss      float64 // last validation loss; NaN when none
	Checkpoint   string  // the last checkpoint written, "" if none
}

// ErrInterrupted is returned (wrapped) by Run when ctx was cancelled: a
// checkpoint of the last completed step was saved.
var ErrInterrupted = errors.New("training interrupted")

// Run trains until Config.Steps steps are done, writing metrics, the
// progress bar, checkpoints every SaveEvery steps, validation every
// EvalEvery steps and at the end, and finally the adapter and loss.png
// into OutDir. On cancellation it saves a checkpoint and returns an error
// wrapping ErrInterrupted; on a NaN or infinite loss it stops without
// saving (the last good checkpoint stays) and returns a *NonFiniteError.
func (t *Trainer) Run(ctx context.Context) (sum Summary, err error) {
	sum.ValLoss = math.NaN()
	if err := t.check(); err != nil {
		return sum, err
	}
	mw, err := openMetrics(t.Config.MetricsPath, t.step)
	if err != nil {
		return sum, err
	}
	defer mw.Close()
	bar := newBar(t.Progress, t.Config.Steps, t.step)
	t.bar = bar
	defer func() { t.bar = nil }()
	start := time.Now()
	t.runStart = start
	startTokens := t.tokens
	defer func() {
		sum.Steps, sum.Tokens = t.step, t.tokens
		sum.Seconds = time.Since(start).Seconds()
		t.elapsed += sum.Seconds
		t.runStart = time.Time{}
		if sum.Seconds > 0 {
			sum.TokensPerSec = float64(t.tokens-startTokens) / sum.Seconds
		}
		sum.Checkpoint = t.lastSave
	}()
	// A checkpoint keeps its validations: one at its own step, such as the
	// final validation of a run resumed at its last step, is not run (and
	// written to the metrics) again.
	lastEval := -1
	if v := t.history.Val; len(v) > 0 {
		lastEval, sum.ValLoss = v[len(v)-1].Step, v[len(v)-1].Loss
	}
	eval := func() error {
		loss, _, err := t.Eval(ctx, t.Valid)
		if err != nil {
			return err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return &NonFiniteError{Step: t.step, What: "the validation loss", Value: loss}
		}
		lastEval, sum.ValLoss = t.step, loss
		t.history.Val = append(t.history.Val, Point{Step: t.step, Loss: loss})
		bar.note(fmt.Sprintf("step %d: validation loss %.4f, perplexity %.2f", t.step, loss, math.Exp(loss)))
		return mw.write(valLine{Step: t.step, ValLoss: loss, ValPPL: jsonFloat(math.Exp(loss))})
	}
	// RNG states where the last completed step left them (evaluation
	// draws nothing: dropout is off).
	rngs, err := t.rngStates()
	if err != nil {
		return sum, err
	}
	interrupted := func(cause error) error {
		bar.finish()
		// An abandoned step may have drawn dropout masks: put the RNGs
		// back to where the last completed step left them.
		if err := t.setRNGs(rngs); err != nil {
			return fmt.Errorf("%w at step %d (%v), and restoring the RNG state failed: %v", ErrInterrupted, t.step, cause, err)
		}
		dir, err := t.SaveCheckpoint()
		if err != nil {
			return fmt.Errorf("%w at step %d (%v), and saving a checkpoint failed: %v", ErrInterrupted, t.step, cause, err)
		}
		return fmt.Errorf("%w at step %d (%v): checkpoint saved in %s; continue with --resume %s", ErrInterrupted, t.step, cause, dir, dir)
	}
	// validate runs eval and turns its failure into the run's: a Ctrl-C
	// during it keeps the step done.
	validate := func() error {
		if err := eval(); err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx.Err())
			}
			bar.finish()
			return t.stopped(err)
		}
		return nil
	}
	// A run stopped by Ctrl-C during a validation saved its step without
	// it: the resumed run validates that step first, so that the metrics
	// hold every validation the straight run writes.
	if t.Valid != nil && t.Config.EvalEvery > 0 && t.step > 0 && t.step%t.Config.EvalEvery == 0 && lastEval != t.step && t.step < t.Config.Steps {
		if err := validate(); err != nil {
			return sum, err
		}
	}
	for t.step < t.Config.Steps {
		if err := ctx.Err(); err != nil {
			return sum, interrupted(err)
		}
		micro, err := t.nextMicro()
		if err != nil {
			return sum, err
		}
		t0 := time.Now()
		st, err := t.Step(ctx, micro)
		if err != nil {
			if ctx.Err() != nil {
				return sum, interrupted(ctx.Err())
			}
			bar.finish()
			return sum, t.stopped(err)
		}
		dt := time.Since(t0).Seconds()
		if rngs, err = t.rngStates(); err != nil {
			return sum, err
		}
		t.pos += len(micro)
		t.tokens += int64(st.Tokens)
		t.history.Train = append(t.history.Train, Point{Step: st.Step, Loss: st.Loss})
		elapsed := t.elapsedS()
		tps := 0.0
		if dt > 0 {
			tps = float64(st.Tokens) / dt
		}
		if err := mw.write(stepLine{Step: st.Step, Loss: st.Loss, LR: st.LR, GradNorm: st.GradNorm,
			Tokens: t.tokens, TokensPerSec: tps, ElapsedS: elapsed}); err != nil {
			return sum, err
		}
		bar.step(st, tps)
		if t.Valid != nil && t.Config.EvalEvery > 0 && t.step%t.Config.EvalEvery == 0 {
			if err := validate(); err != nil {
				return sum, err
			}
		}
		if t.Config.SaveEvery > 0 && t.step%t.Config.SaveEvery == 0 && t.step < t.Config.Steps {
			if _, err := t.SaveCheckpoint(); err != nil {
				return sum, err
			}
		}
	}
	if t.Valid != nil && lastEval != t.step {
		if err := validate(); err != nil {
			return sum, err
		}
	}
	bar.finish()
	if t.Config.SaveEvery > 0 && t.step%t.Config.SaveEvery == 0 {
		if _, err := t.SaveCheckpoint(); err != nil {
			return sum, err
		}
	}
	if err := t.saveFinal(); err != nil {
		return sum, err
	}
	return sum, nil
}

// stopped explains an error that ends a run: a *NonFiniteError names the
// last good checkpoint and how to go on from it; others pass unchanged.
func (t *Trainer) stopped(err error) error {
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		return err
	}
	if t.lastSave != "" {
		return fmt.Errorf("train: %w: training stopped; the last good checkpoint is %s (to go on with a lower --lr or --max-grad-norm, start a run with --init-adapter %s: --resume keeps the settings)", err, t.lastSave, t.lastSave)
	}
	return fmt.Errorf("train: %w: training stopped before any checkpoint was saved (try a lower --lr or --max-grad-norm)", err)
}

// check validates the fields Run needs.
func (t *Trainer) check() error {
	c := t.Config
	switch {
	case t.Model == nil || t.Opt == nil || t.Train == nil:
		return errors.New("train: Trainer needs Model, Opt and Train")
	case c.Steps < 1:
		return fmt.Errorf("train: Steps must be at least 1, got %d", c.Steps)
	case c.GradAccum < 1:
		return fmt.Errorf("train: GradAccum must be at least 1, got %d", c.GradAccum)
	case c.OutDir == "":
		return errors.New("train: OutDir is required")
	case t.SaveAdapter == nil:
		return errors.New("train: SaveAdapter is required")
	case t.step > c.Steps:
		return fmt.Errorf("train: the checkpoint is at step %d, past the run's %d steps", t.step, c.Steps)
	}
	if err := c.Schedule.Check(); err != nil {
		return fmt.Errorf("train: Schedule: %w", err)
	}
	// transformers' Trainer builds its schedule over exactly the run's
	// steps; past Total a linear rate stays 0 and a cosine one rises again.
	if c.Schedule.Kind != optim.Constant && c.Schedule.Total < c.Steps {
		return fmt.Errorf("train: the %s schedule ends at step %d, before the run's %d steps", c.Schedule.Kind, c.Schedule.Total, c.Steps)
	}
	return nil
}

// elapsedS returns the seconds trained so far, earlier processes included.
func (t *Trainer) elapsedS() float64 {
	if t.runStart.IsZero() {
		return t.elapsed
	}
	return t.elapsed + time.Since(t.runStart).Seconds()
}

// rngStates returns the state of each of RNGs.
func (t *Trainer) rngStates() (map[string][]byte, error) {
	if len(t.RNGs) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(t.RNGs))
	for name, r := range t.RNGs {
		b, err := r.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("train: RNG %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// setRNGs restores states from rngStates; nil changes nothing.
func (t *Trainer) setRNGs(states map[string][]byte) error {
	for name, b := range states {
		r, ok := t.RNGs[name]
		if !ok {
			continue
		}
		if err := r.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("train: RNG %s: %w", name, err)
		}
	}
	return nil
}

// logf writes a message line to Log, above the progress bar while one runs.
func (t *Trainer) logf(format string, args ...any) {
	if t.Log == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if t.bar != nil && t.bar.pb != nil && t.Log == t.Progress {
		t.bar.note(msg)
		return
	}
	fmt.Fprintln(t.Log, msg)
}
