package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loftml/loft/data"
	"github.com/loftml/loft/hub"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/optim"
	"github.com/loftml/loft/train"
)

// trainFlags are loft train's command-line settings.
type trainFlags struct {
	model, out, valid, initAdapter, metrics, resume string
	dataFiles                                       []string
	validFraction                                   float64
	loraR                                           int
	loraAlpha, loraDropout                          float64
	targets, exclude                                []string
	targetRegex, layers                             string
	rslora, overwrite                               bool
	loraInit                                        string
	lr                                              float64
	steps, epochs, batchSize, gradAccum, seqLen     int
	schedule                                        string
	warmup                                          int
	warmupRatio                                     float64
	weightDecay, maxGradNorm                        float64
	noShuffle                                       bool
	seed                                            uint64
	saveEvery, evalEvery                            int
	gradCheckpoint, pack, trainOnPrompt, chat       bool
	format, chatTmpl                                string
	threads                                         int
}

func (f *trainFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "base model: a folder, a .gguf file or a Hugging Face Hub id (required)")
	fs.StringArrayVar(&f.dataFiles, "data", nil, "training data: a JSON Lines or .txt file (required; repeat for several)")
	fs.StringVar(&f.out, "out", "", "folder for the adapter, loss.png and checkpoint-<step>/ folders (required): new, empty or an earlier run's (whose adapter is replaced); never a model folder")
	fs.BoolVar(&f.overwrite, "overwrite", false, "train into an --out holding an earlier run's checkpoint-<step>/ folders (deleted first) or files loft did not write (kept)")
	fs.StringVar(&f.valid, "valid", "", "validation data file")
	fs.Float64Var(&f.validFraction, "valid-fraction", 0, "hold out this fraction of --data for validation (0: none)")
	fs.IntVar(&f.loraR, "lora-r", 8, "LoRA rank r")
	fs.Float64Var(&f.loraAlpha, "lora-alpha", 16, "LoRA alpha: the update is scaled by alpha/r")
	fs.Float64Var(&f.loraDropout, "lora-dropout", 0, "dropout on the LoRA input, in [0, 1)")
	fs.StringSliceVar(&f.targets, "target", nil, "modules to adapt: comma list of name suffixes, or all-linear (default q_proj,v_proj; GPT-2: c_attn)")
	fs.StringVar(&f.targetRegex, "target-regex", "", "adapt the modules whose full name matches this regular expression")
	fs.StringSliceVar(&f.exclude, "exclude", nil, "comma list of module-name suffixes never adapted")
	fs.StringVar(&f.layers, "layers", "", "adapt only these layers: comma list of indices or ranges (0,2,5-7)")
	fs.BoolVar(&f.rslora, "rslora", false, "rank-stabilised LoRA: scale by alpha/sqrt(r)")
	fs.StringVar(&f.loraInit, "lora-init", "kaiming", "initialisation of lora_A (B starts at 0): kaiming (uniform, a = sqrt 5) or gaussian (std 1/r), as PEFT's init_lora_weights")
	fs.Float64Var(&f.lr, "lr", 1e-4, "peak learning rate")
	fs.IntVar(&f.steps, "steps", 0, "optimizer steps to train (instead of --epochs)")
	fs.IntVar(&f.epochs, "epochs", 0, "passes over the data (default 1 when --steps is not given)")
	fs.IntVar(&f.batchSize, "batch-size", 4, "examples per micro-batch")
	fs.IntVar(&f.gradAccum, "grad-accum", 1, "micro-batches per optimizer step (an epoch's last step takes those left)")
	fs.IntVar(&f.seqLen, "seq-len", 512, "longest example in tokens (longer ones are truncated)")
	fs.StringVar(&f.schedule, "schedule", "constant", "learning-rate schedule after warmup: constant, linear or cosine")
	fs.IntVar(&f.warmup, "warmup-steps", 0, "steps of linear warmup from 0")
	fs.Float64Var(&f.warmupRatio, "warmup-ratio", 0, "warmup as a fraction of the training steps, rounded up (transformers' warmup_ratio)")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0, "AdamW decoupled weight decay")
	fs.Float64Var(&f.maxGradNorm, "max-grad-norm", 1, "clip the global gradient norm to this (0: no clipping)")
	fs.BoolVar(&f.noShuffle, "no-shuffle", false, "keep file order: batch k holds examples kB..kB+B-1")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the LoRA initialisation, dropout, shuffling and the validation split")
	fs.StringVar(&f.initAdapter, "init-adapter", "", "start from this PEFT LoRA adapter folder instead of a fresh one")
	fs.StringVar(&f.metrics, "metrics", "", "write one JSON line per step (and per validation) to this file")
	fs.IntVar(&f.saveEvery, "save-every", 0, "write a checkpoint every N steps (0: none)")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "validation loss every N steps (0: only at the end)")
	fs.StringVar(&f.resume, "resume", "", "continue from a checkpoint folder (or the latest checkpoint-<step> inside a folder)")
	fs.BoolVar(&f.gradCheckpoint, "grad-checkpoint", false, "recompute activations in backward to save memory, where the model supports it")
	fs.BoolVar(&f.pack, "pack", false, "pack examples into full --seq-len rows")
	fs.BoolVar(&f.trainOnPrompt, "train-on-prompt", false, "count prompt and non-assistant tokens in the loss too")
	fs.StringVar(&f.format, "format", "auto", "data format: auto, text, completion, alpaca or chat")
	fs.BoolVar(&f.chat, "chat", false, "render completion and Alpaca examples through the model's chat template")
	fs.StringVar(&f.chatTmpl, "chat-template", "", `chat template for chat data (and --chat): one of the model's by name, "chatml", or a Jinja file (default: the model's own); a model without one can learn ChatML, as TRL's setup_chat_format gives it`)
	fs.IntVar(&f.threads, "threads", 0, "threads to run on (0: LOFT_THREADS, else all cores)")
}

// check validates every flag that needs no model, before any work.
func (f *trainFlags) check(fs *pflag.FlagSet) error {
	switch {
	case f.model == "":
		return usageErrorf("train: --model is required")
	case len(f.dataFiles) == 0:
		return usageErrorf("train: --data is required")
	case f.out == "":
		return usageErrorf("train: --out is required")
	case f.loraR < 1:
		return usageErrorf("train: --lora-r must be at least 1, got %d", f.loraR)
	case !(f.loraAlpha > 0) || math.IsInf(f.loraAlpha, 0):
		return usageErrorf("train: --lora-alpha must be positive, got %v", f.loraAlpha)
	case !(f.loraDropout >= 0 && f.loraDropout < 1):
		return usageErrorf("train: --lora-dropout must be in [0, 1), got %v", f.loraDropout)
	case f.overwrite && f.resume != "":
		return usageErrorf("train: give --resume or --overwrite, not both: --resume continues the run in its folder, --overwrite starts over")
	case fs.Changed("target") && f.targetRegex != "":
		return usageErrorf("train: give --target or --target-regex, not both")
	case !(f.lr > 0) || math.IsInf(f.lr, 0):
		return usageErrorf("train: --lr must be positive, got %v", f.lr)
	case fs.Changed("steps") && fs.Changed("epochs"):
		return usageErrorf("train: give --steps or --epochs, not both")
	case fs.Changed("steps") && f.steps < 1:
		return usageErrorf("train: --steps must be at least 1, got %d", f.steps)
	case fs.Changed("epochs") && f.epochs < 1:
		return usageErrorf("train: --epochs must be at least 1, got %d", f.epochs)
	case f.batchSize < 1:
		return usageErrorf("train: --batch-size must be at least 1, got %d", f.batchSize)
	case f.gradAccum < 1:
		return usageErrorf("train: --grad-accum must be at least 1, got %d", f.gradAccum)
	case f.seqLen < 2:
		return usageErrorf("train: --seq-len must be at least 2, got %d", f.seqLen)
	case f.warmup < 0:
		return usageErrorf("train: --warmup-steps must not be negative, got %d", f.warmup)
	case fs.Changed("warmup-steps") && fs.Changed("warmup-ratio"):
		return usageErrorf("train: give --warmup-steps or --warmup-ratio, not both")
	case !(f.warmupRatio >= 0 && f.warmupRatio < 1):
		return usageErrorf("train: --warmup-ratio must be in [0, 1), got %v", f.warmupRatio)
	case !(f.weightDecay >= 0) || math.IsInf(f.weightDecay, 0):
		return usageErrorf("train: --weight-decay must not be negative, got %v", f.weightDecay)
	case !(f.maxGradNorm >= 0) || math.IsInf(f.maxGradNorm, 0):
		return usageErrorf("train: --max-grad-norm must not be negative (0 disables clipping), got %v", f.maxGradNorm)
	case f.saveEvery < 0:
		return usageErrorf("train: --save-every must not be negative, got %d", f.saveEvery)
	case f.evalEvery < 0:
		return usageErrorf("train: --eval-every must not be negative, got %d", f.evalEvery)
	case f.evalEvery > 0 && f.valid == "" && !fs.Changed("valid-fraction"):
		return usageErrorf("train: --eval-every needs a validation set: give --valid FILE or --valid-fraction F")
	case f.valid != "" && fs.Changed("valid-fraction"):
		return usageErrorf("train: give --valid or --valid-fraction, not both")
	case fs.Changed("valid-fraction") && !(f.validFraction > 0 && f.validFraction < 1):
		return usageErrorf("train: --valid-fraction must be between 0 and 1, got %v", f.validFraction)
	case f.threads < 0:
		return usageErrorf("train: --threads must be positive (0 for the default), got %d", f.threads)
	}
	if f.loraInit != "kaiming" && f.loraInit != "gaussian" {
		return usageErrorf("train: --lora-init must be kaiming or gaussian, got %q", f.loraInit)
	}
	if _, err := optim.ParseSchedule(f.schedule); err != nil {
		return usageErrorf("train: --schedule: %v", err)
	}
	if _, err := data.ParseFormat(f.format); err != nil {
		return usageErrorf("train: --format: %v", err)
	}
	if _, err := parseLayers(f.layers); err != nil {
		return usageErrorf("train: --layers: %v", err)
	}
	if f.targetRegex != "" {
		layers, _ := parseLayers(f.layers) // checked
		cfg := lora.Config{R: 1, Alpha: 1, TargetRegex: f.targetRegex, Layers: layers}
		if err := cfg.Validate(); err != nil {
			return usageErrorf("train: --target-regex: %v", err)
		}
	}
	// "q_proj, v_proj" (a space after the comma) means q_proj and v_proj.
	for _, list := range []*[]string{&f.targets, &f.exclude} {
		for i, t := range *list {
			(*list)[i] = strings.TrimSpace(t)
			if (*list)[i] == "" {
				return usageErrorf("train: --target and --exclude take comma lists of module names; one is empty")
			}
		}
	}
	if len(f.targets) > 0 {
		layers, _ := parseLayers(f.layers) // checked
		cfg := lora.Config{R: 1, Alpha: 1, Targets: f.targets, Layers: layers}
		if err := cfg.Validate(); err != nil {
			return usageErrorf("train: --target: %s", strings.TrimPrefix(err.Error(), "lora: "))
		}
	}
	if f.initAdapter != "" {
		for _, name := range []string{"lora-r", "lora-alpha", "lora-dropout", "target", "target-regex", "exclude", "layers", "rslora", "lora-init"} {
			if fs.Changed(name) {
				return usageErrorf("train: --%s conflicts with --init-adapter, whose adapter_config.json sets it", name)
			}
		}
	}
	return nil
}

// parseLayers reads "0,2,5-7" into [0 2 5 6 7]; "" is nil (all layers).
func parseLayers(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a layer index or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a layer range (low-high)", part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// trainConfig is the resolved configuration: printed at start and written
// as config.json into every checkpoint. Identity fields must match on
// --resume.
type trainConfig struct {
	Model         string    `json:"model"`
	Arch          string    `json:"architecture"`
	Data          []string  `json:"data"`
	Valid         string    `json:"valid,omitempty"`
	ValidFraction float64   `json:"valid_fraction,omitempty"`
	Out           string    `json:"out"`
	InitAdapter   string    `json:"init_adapter,omitempty"`
	LoraR         int       `json:"lora_r"`
	LoraAlpha     float64   `json:"lora_alpha"`
	LoraDropout   float64   `json:"lora_dropout"`
	Targets       []string  `json:"target,omitempty"`
	TargetRegex   string    `json:"target_regex,omitempty"`
	Exclude       []string  `json:"exclude,omitempty"`
	Layers        []int     `json:"layers,omitempty"`
	RSLoRA        bool      `json:"rslora"`
	LoraInit      string    `json:"lora_init,omitempty"` // fresh adapters only
	Modules       int       `json:"adapted_modules"`
	TrainExamples int       `json:"train_examples"` // after truncation, drops and the validation split
	TrainTokens   int       `json:"train_tokens"`
	TrainTargets  int       `json:"train_targets"` // tokens counted in the loss
	StepsPerEpoch int       `json:"steps_per_epoch"`
	LR            float64   `json:"lr"`
	Schedule      string    `json:"schedule"`
	Warmup        int       `json:"warmup_steps"`
	Steps         int       `json:"steps"`
	Epochs        float64   `json:"epochs"` // Steps / steps per epoch (train.StepsPerEpoch)
	BatchSize     int       `json:"batch_size"`
	GradAccum     int       `json:"grad_accum"`
	SeqLen        int       `json:"seq_len"`
	WeightDecay   float64   `json:"weight_decay"`
	MaxGradNorm   float64   `json:"max_grad_norm"`
	Betas         []float64 `json:"adam_betas"`
	Eps           float64   `json:"adam_eps"`
	Shuffle       bool      `json:"shuffle"`
	Seed          uint64    `json:"seed"`
	Format        string    `json:"format"`
	Chat          bool      `json:"chat"`
	ChatTemplate  string    `json:"chat_template,omitempty"`
	Pack          bool      `json:"pack"`
	TrainOnPrompt bool      `json:"train_on_prompt"`
	GradCkpt      bool      `json:"grad_checkpoint"`
	SaveEvery     int       `json:"save_every"`
	EvalEvery     int       `json:"eval_every"`
	Metrics       string    `json:"metrics,omitempty"`
	Threads       int       `json:"threads"`
}

// identity returns the settings a checkpoint must share with the run that
// resumes it: everything that changes the trajectory. The number of steps
// may grow with a constant schedule (the learning rate does not depend on
// it then).
func (c *trainConfig) identity() map[string]any {
	id := map[string]any{
		"model": c.Model, "architecture": c.Arch, "data": c.Data, "valid": c.Valid, "valid_fraction": c.ValidFraction,
		"init_adapter": c.InitAdapter, "lora_r": c.LoraR, "lora_alpha": c.LoraAlpha, "lora_dropout": c.LoraDropout,
		"target": c.Targets, "target_regex": c.TargetRegex, "exclude": c.Exclude, "layers": c.Layers, "rslora": c.RSLoRA,
		"lr": c.LR, "schedule": c.Schedule, "warmup_steps": c.Warmup, "batch_size": c.BatchSize, "grad_accum": c.GradAccum,
		"seq_len": c.SeqLen, "weight_decay": c.WeightDecay, "max_grad_norm": c.MaxGradNorm, "shuffle": c.Shuffle,
		"seed": c.Seed, "format": c.Format, "chat": c.Chat, "pack": c.Pack, "train_on_prompt": c.TrainOnPrompt,
		// The same paths with other contents give other batches, and
		// another loft may count other targets in them (chat turns counted
		// to their end since eb63a7a) or lay an epoch's steps out another
		// way (no step across epochs since a2cc10f): a checkpoint of such a
		// run lacks these keys and is refused.
		"train_examples": c.TrainExamples, "train_tokens": c.TrainTokens, "train_targets": c.TrainTargets,
		"steps_per_epoch": c.StepsPerEpoch,
	}
	if c.Schedule != string(optim.Constant) {
		id["steps"] = c.Steps
	}
	if c.ChatTemplate != "" { // absent otherwise, as in checkpoints made before --chat-template
		id["chat_template"] = c.ChatTemplate
	}
	return id
}

// batcherData adapts data.Batcher to train.Data.
type batcherData struct{ b *data.Batcher }

func (d batcherData) Len() int { return d.b.Len() }
func (d batcherData) Batch(epoch, i int) (train.Batch, error) {
	b := d.b.Batch(epoch, i)
	return train.Batch{IDs: b.IDs, Targets: b.Targets, B: b.B, T: b.T}, nil
}

// adapterRNG exposes the LoRA dropout generator to the trainer's
// checkpoints.
type adapterRNG struct{ a *lora.Adapter }

func (r adapterRNG) MarshalBinary() ([]byte, error) { return r.a.RNGState() }
func (r adapterRNG) UnmarshalBinary(b []byte) error { return r.a.SetRNGState(b) }

// gradCheckpointer is implemented by models that can recompute each
// layer's activations in backward.
type gradCheckpointer interface{ SetGradCheckpoint(on bool) }

func newTrainCmd() *cobra.Command {
	var tf trainFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a LoRA adapter on your data",
		Long: `train fine-tunes a LoRA adapter for --model on --data and writes it to --out in
Hugging Face PEFT's format (adapter_config.json, adapter_model.safetensors), which
loft generate --adapter, loft merge, PEFT, vLLM and llama.cpp's converter read.

Data: JSON Lines with {"text"}, {"prompt", "completion"}, Alpaca
{"instruction", "input", "output"} or chat {"messages"} records (detected per file,
or forced with --format), or a plain .txt file cut into --seq-len blocks. Only the
completion/assistant tokens count in the loss unless --train-on-prompt.

Each optimizer step runs --grad-accum micro-batches of --batch-size examples; its
loss is the mean cross-entropy over all their counted tokens. Gradients are clipped
to --max-grad-norm, then AdamW (betas 0.9/0.999, eps 1e-8, decoupled
--weight-decay) updates A and B at the --schedule's learning rate.

Outputs in --out: the adapter, loss.png (training and validation loss), and
checkpoint-<step>/ folders every --save-every steps and on Ctrl-C (adapter, AdamW
moments, data position, RNG states, trainer_state.json, config.json); --resume
continues one exactly. --out must not be a model folder; an earlier run's adapter
there is replaced, but its checkpoints or files loft did not write need --resume or
--overwrite. --metrics writes one JSON line per step (step, loss, lr,
grad_norm, tokens, tokens_per_s, elapsed_s) and one per validation (step,
val_loss, val_ppl). A NaN or infinite loss stops training without touching the
last checkpoint. Progress, the resolved configuration, the trainable-parameter
count, a memory estimate and the final speed go to stderr.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tf.check(cmd.Flags()); err != nil {
				return err
			}
			defer setThreads(tf.threads)()
			return runTrain(cmd.Context(), &tf, cmd.Flags(), cmd.ErrOrStderr())
		},
	}
	tf.register(cmd.Flags())
	return cmd
}

func runTrain(ctx context.Context, tf *trainFlags, fs *pflag.FlagSet, stderr io.Writer) (err error) {
	plan, err := checkOut(tf)
	if err != nil {
		return err
	}
	b, err := loadGenModel(ctx, tf.model, stderr)
	if err != nil {
		return err
	}
	m, ok := b.LM.(model.Trainable)
	if !ok {
		return fmt.Errorf("train: %s: loft cannot train %s models yet (no backward pass)", tf.model, b.Arch)
	}
	if ctxLen := b.Info.ContextLength; ctxLen > 0 && tf.seqLen > ctxLen {
		return usageErrorf("train: --seq-len %d exceeds the model's context length %d", tf.seqLen, ctxLen)
	}
	if tf.gradCheckpoint {
		if gc, ok := b.LM.(gradCheckpointer); ok {
			gc.SetGradCheckpoint(true)
		} else {
			fmt.Fprintf(stderr, "loft: --grad-checkpoint: %s models keep all activations for now; the flag changes nothing\n", b.Arch)
			tf.gradCheckpoint = false
		}
	}

	// The adapter.
	layers, _ := parseLayers(tf.layers) // checked
	var ad *lora.Adapter
	if tf.initAdapter != "" {
		if ad, err = lora.Load(tf.initAdapter, m.Slots()); err != nil {
			return err
		}
		ad.SeedDropout(tf.seed)
	} else {
		lc := lora.Config{R: tf.loraR, Alpha: tf.loraAlpha, Dropout: tf.loraDropout, TargetRegex: tf.targetRegex,
			Exclude: tf.exclude, Layers: layers, RSLoRA: tf.rslora, InitGaussian: tf.loraInit == "gaussian", Seed: tf.seed}
		if tf.targetRegex == "" {
			lc.Targets = tf.targets
			if len(lc.Targets) == 0 {
				lc.Targets = []string{"q_proj", "v_proj"}
				if b.Arch == "gpt2" {
					lc.Targets = []string{"c_attn"}
				}
			}
		}
		if ad, err = lora.Apply(m.Slots(), lc); err != nil {
			return applyError(err)
		}
	}
	ad.SetTraining(true)
	base, rev := adapterBase(tf.model)
	ad.BaseRevision = rev

	// The data.
	dc, err := data.FromBundle(b)
	if err != nil {
		return err
	}
	if tf.chatTmpl != "" {
		t, err := chatTemplate(b, tf.chatTmpl)
		if err != nil {
			return usageErrorf("train: %v", err) // it names --chat-template
		}
		dc.Template = t
	}
	format, _ := data.ParseFormat(tf.format) // checked
	dc.SeqLen, dc.Format, dc.TrainOnPrompt, dc.Chat = tf.seqLen, format, tf.trainOnPrompt, tf.chat
	ds, err := data.Load(dc, tf.dataFiles...)
	if err != nil {
		return err
	}
	var vs *data.Dataset
	switch {
	case tf.valid != "":
		if vs, err = data.Load(dc, tf.valid); err != nil {
			return err
		}
	case tf.validFraction > 0:
		if ds, vs, err = ds.Split(tf.validFraction, tf.seed); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		what  string
		ds    *data.Dataset
		files []string
	}{{"training", ds, tf.dataFiles}, {"validation", vs, []string{tf.valid}}} {
		if d.ds != nil && len(d.ds.Examples) == 0 {
			if tf.valid == "" {
				d.files = tf.dataFiles
			}
			return fmt.Errorf("train: %s: no %s example left: all %d were dropped, their prompts filling --seq-len %d with no completion token left to learn",
				strings.Join(d.files, ", "), d.what, d.ds.Dropped, tf.seqLen)
		}
	}
	pad := data.PadID(b.Tokenizer.Specials())
	trainB, err := data.NewBatcher(ds.Examples, data.BatchOptions{BatchSize: tf.batchSize, SeqLen: tf.seqLen,
		Pack: tf.pack, Shuffle: !tf.noShuffle, Seed: tf.seed, Pad: pad})
	if err != nil {
		return fmt.Errorf("train: %s: %w", strings.Join(tf.dataFiles, ", "), err)
	}
	var validData train.Data
	if vs != nil {
		vb, err := data.NewBatcher(vs.Examples, data.BatchOptions{BatchSize: tf.batchSize, SeqLen: tf.seqLen, Pack: tf.pack, Pad: pad})
		if err != nil {
			return fmt.Errorf("train: validation set: %w", err)
		}
		validData = batcherData{vb}
	}

	// The resolved configuration.
	// An epoch ends with a shorter step when --grad-accum does not divide
	// its batches (train.StepsPerEpoch).
	steps := tf.steps
	epochs := max(tf.epochs, 1)
	perEpoch := train.StepsPerEpoch(trainB.Len(), tf.gradAccum)
	if !fs.Changed("steps") {
		steps = epochs * perEpoch
	}
	kind, _ := optim.ParseSchedule(tf.schedule) // checked
	// As transformers' get_warmup_steps: the ratio of the run's steps,
	// rounded up.
	warmup := tf.warmup
	if tf.warmupRatio > 0 {
		warmup = int(math.Ceil(tf.warmupRatio * float64(steps)))
	}
	lc := ad.Config
	rc := trainConfig{
		Model: absPath(b.Path), Arch: b.Arch, Data: absPaths(tf.dataFiles), ValidFraction: tf.validFraction, Out: tf.out,
		LoraR: lc.R, LoraAlpha: lc.Alpha, LoraDropout: lc.Dropout, Targets: lc.Targets, TargetRegex: lc.TargetRegex,
		Exclude: lc.Exclude, Layers: lc.Layers, RSLoRA: lc.RSLoRA, Modules: len(ad.Modules),
		LR: tf.lr, Schedule: string(kind), Warmup: warmup, Steps: steps,
		Epochs:    float64(steps) / float64(perEpoch),
		BatchSize: tf.batchSize, GradAccum: tf.gradAccum, SeqLen: tf.seqLen, WeightDecay: tf.weightDecay,
		MaxGradNorm: tf.maxGradNorm, Betas: []float64{0.9, 0.999}, Eps: 1e-8, Shuffle: !tf.noShuffle, Seed: tf.seed,
		Format: tf.format, Chat: tf.chat, ChatTemplate: tf.chatTmpl, Pack: tf.pack, TrainOnPrompt: tf.trainOnPrompt, GradCkpt: tf.gradCheckpoint,
		SaveEvery: tf.saveEvery, EvalEvery: tf.evalEvery, Metrics: tf.metrics, Threads: kernels.Threads(),
	}
	tokens, counted := ds.Tokens()
	rc.TrainExamples, rc.TrainTokens, rc.TrainTargets, rc.StepsPerEpoch = len(ds.Examples), tokens, counted, perEpoch
	if tf.valid != "" {
		rc.Valid = absPath(tf.valid)
	}
	if tf.initAdapter != "" {
		rc.InitAdapter = absPath(tf.initAdapter)
	} else {
		rc.LoraInit = tf.loraInit
	}
	printTrainConfig(stderr, &rc)
	fmt.Fprintf(stderr, "data: %d training examples (%d tokens, %d counted), %d batches per epoch", len(ds.Examples), tokens, counted, trainB.Len())
	if vs != nil {
		fmt.Fprintf(stderr, "; %d validation examples", len(vs.Examples))
	}
	fmt.Fprintln(stderr)
	// With --valid-fraction the counts of --data hold both parts.
	for _, d := range []struct {
		flag string
		ds   *data.Dataset
	}{{"--data", ds}, {"--valid", vs}} {
		if d.ds != nil && (d.ds.Truncated > 0 || d.ds.Dropped > 0) {
			fmt.Fprintf(stderr, "loft: warning: %d examples of %s truncated to --seq-len %d, %d dropped (no counted token left)\n",
				d.ds.Truncated, d.flag, tf.seqLen, d.ds.Dropped)
		}
	}
	fmt.Fprintln(stderr, train.TrainableLine(ad.NumParams(), b.Info.Params))

	// Memory: refuse a run that cannot fit.
	T := tf.seqLen
	if !tf.pack {
		longest := 0
		for _, ex := range ds.Examples {
			longest = max(longest, len(ex.IDs))
		}
		T = min(tf.seqLen, (longest+7)/8*8)
	}
	est := train.EstimateMemory(b.Info, min(tf.batchSize, trainB.Rows()), T, ad.NumParams(), tf.gradCheckpoint)
	fmt.Fprintf(stderr, "memory estimate: %v\n", est)
	if avail, ok := train.MemAvailable(); ok && est.Total() > avail {
		return fmt.Errorf("train: the run needs about %s but only %s is available (MemAvailable, or the cgroup memory limit); lower --batch-size or --seq-len (with --grad-accum to keep the step size), or add --grad-checkpoint",
			train.MiB(est.Total()), train.MiB(avail))
	}

	// A run that cannot write its results must fail now, not at the end.
	// A folder made here is removed again if the run fails before writing
	// into it (a refused --resume, a bad --metrics path); os.Remove leaves
	// a folder that is no longer empty.
	_, statErr := os.Stat(tf.out)
	if err := checkWritableDir(tf.out); err != nil {
		return fmt.Errorf("train: --out %s: %w", tf.out, err)
	}
	if os.IsNotExist(statErr) {
		defer func() {
			if err != nil {
				os.Remove(tf.out)
			}
		}()
	}
	if err := plan.apply(stderr); err != nil {
		return err
	}

	params := ad.Params()
	tr := &train.Trainer{
		Model: m, Params: params, Opt: optim.NewAdamW(params, tf.weightDecay),
		Train: batcherData{trainB}, Valid: validData,
		Config: train.Config{Steps: steps, GradAccum: tf.gradAccum, MaxGradNorm: tf.maxGradNorm,
			Schedule:  optim.Schedule{Kind: kind, LR: tf.lr, Warmup: warmup, Total: steps},
			EvalEvery: tf.evalEvery, SaveEvery: tf.saveEvery, OutDir: tf.out, MetricsPath: tf.metrics},
		SaveAdapter: func(dir string) error { return ad.Save(dir, base) },
		SetTraining: ad.SetTraining,
		RNGs:        map[string]train.RNG{"lora_dropout": adapterRNG{ad}},
		Identity:    rc.identity(),
		Resolved:    rc,
		Progress:    stderr,
		Log:         stderr,
	}
	if tf.resume != "" {
		dir, err := tr.Resume(tf.resume)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "resumed from %s at step %d of %d\n", dir, tr.StepNum(), steps)
	}
	sum, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "trained %d steps, %d counted tokens: %.0f tokens/s", sum.Steps, sum.Tokens, sum.TokensPerSec)
	if peak, ok := train.PeakRSS(); ok {
		fmt.Fprintf(stderr, ", peak memory %s (VmHWM)", train.MiB(peak))
	}
	fmt.Fprintln(stderr)
	if !math.IsNaN(sum.ValLoss) {
		fmt.Fprintf(stderr, "validation loss %.4f, perplexity %.2f\n", sum.ValLoss, math.Exp(sum.ValLoss))
	}
	fmt.Fprintf(stderr, "adapter written to %s (adapter_config.json, adapter_model.safetensors, loss.png)\n", tf.out)
	return nil
}

// printTrainConfig writes the resolved configuration, one setting a line.
func printTrainConfig(w io.Writer, c *trainConfig) {
	targets := strings.Join(c.Targets, ",")
	if c.TargetRegex != "" {
		targets = "regex " + c.TargetRegex
	}
	fmt.Fprintf(w, "model: %s (%s)\n", c.Model, c.Arch)
	fmt.Fprintf(w, "data: %s", strings.Join(c.Data, ", "))
	switch {
	case c.Valid != "":
		fmt.Fprintf(w, "; validation %s", c.Valid)
	case c.ValidFraction > 0:
		fmt.Fprintf(w, "; validation fraction %g", c.ValidFraction)
	}
	fmt.Fprintf(w, "; format %s, seq-len %d, pack %v, train-on-prompt %v, chat %v", c.Format, c.SeqLen, c.Pack, c.TrainOnPrompt, c.Chat)
	if c.ChatTemplate != "" {
		fmt.Fprintf(w, ", chat template %s", c.ChatTemplate)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "lora: r %d, alpha %g, dropout %g, rslora %v, targets %s", c.LoraR, c.LoraAlpha, c.LoraDropout, c.RSLoRA, targets)
	if len(c.Exclude) > 0 {
		fmt.Fprintf(w, ", exclude %s", strings.Join(c.Exclude, ","))
	}
	if len(c.Layers) > 0 {
		fmt.Fprintf(w, ", layers %v", c.Layers)
	}
	if c.InitAdapter != "" {
		fmt.Fprintf(w, ", from %s", c.InitAdapter)
	} else {
		fmt.Fprintf(w, ", init %s", c.LoraInit)
	}
	fmt.Fprintf(w, " (%d modules)\n", c.Modules)
	fmt.Fprintf(w, "optimizer: AdamW lr %g, betas %g/%g, eps %g, weight decay %g, max grad norm %g; schedule %s, warmup %d\n",
		c.LR, c.Betas[0], c.Betas[1], c.Eps, c.WeightDecay, c.MaxGradNorm, c.Schedule, c.Warmup)
	fmt.Fprintf(w, "run: %d steps (%.2f epochs) of %d x %d examples, shuffle %v, seed %d, threads %d, grad-checkpoint %v\n",
		c.Steps, c.Epochs, c.GradAccum, c.BatchSize, c.Shuffle, c.Seed, c.Threads, c.GradCkpt)
	every := func(n int, none string) string {
		if n == 0 {
			return none
		}
		return fmt.Sprintf("every %d steps", n)
	}
	validation := "none"
	if c.Valid != "" || c.ValidFraction > 0 {
		validation = every(c.EvalEvery, "at the end")
	}
	metrics := c.Metrics
	if metrics == "" {
		metrics = "none"
	}
	fmt.Fprintf(w, "output: %s; checkpoints %s; validation %s; metrics %s\n", c.Out,
		every(c.SaveEvery, "only on interruption"), validation, metrics)
}

// outPlan is what --out needs before training: an earlier run's
// checkpoints to delete (--overwrite) and whether its adapter is replaced.
type outPlan struct {
	dir      string
	stale    []string // checkpoint-<step> folder names, by step
	replaces bool
}

// checkOut refuses an --out that would mix the run's outputs with other
// files: a model folder (PEFT would load it as an adapter), or, unless
// --overwrite or --resume, an earlier run's checkpoints (a later --resume
// of the folder would pick one) or files loft did not write. A finished
// run's adapter, loss.png and metrics file do not block a new run: the
// README's command is run again as it is.
func checkOut(tf *trainFlags) (outPlan, error) {
	p := outPlan{dir: tf.out}
	fi, err := os.Stat(tf.out)
	if err != nil || !fi.IsDir() {
		return p, nil // a new folder, or not a folder: checkWritableDir says why
	}
	if mi, err := os.Stat(tf.model); err == nil && os.SameFile(fi, mi) {
		return p, usageErrorf("train: --out %s is the --model folder: the adapter would be written among the model's files, and PEFT would then load the folder as an adapter; give another folder", tf.out)
	}
	entries, err := os.ReadDir(tf.out)
	if err != nil {
		return p, fmt.Errorf("train: --out %s: %w", tf.out, err)
	}
	metrics := metricsEntry(tf.out, tf.metrics)
	var weights, other, ckpts []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case !e.IsDir() && isModelFile(n):
			weights = append(weights, n)
		case e.IsDir() && train.CheckpointStep(n) >= 0:
			ckpts = append(ckpts, n)
		case n == lora.ConfigFile || n == lora.WeightsFile:
			p.replaces = true
		case n == "loss.png" || n == metrics || strings.HasPrefix(n, "."):
			// Hidden entries are no one's outputs to mix with: an
			// interrupted loft's temporary files, and the desktop's
			// (.DS_Store after Finder showed loss.png).
		default:
			other = append(other, n)
		}
	}
	if len(weights) > 0 {
		return p, usageErrorf("train: --out %s holds a model (%s): the adapter would be written among its files, and PEFT would then load the folder as an adapter; give a new or empty folder",
			tf.out, someNames(weights))
	}
	if tf.resume != "" && within(tf.resume, tf.out) {
		// The run continues its checkpoints' folder, as before.
		p.replaces = false
		return p, nil
	}
	slices.SortFunc(ckpts, func(a, b string) int { return cmp.Compare(train.CheckpointStep(a), train.CheckpointStep(b)) })
	switch {
	case len(ckpts) > 0 && !tf.overwrite:
		return p, usageErrorf("train: --out %s holds the checkpoints of an earlier run (%s): give --resume %s to continue that run, or --overwrite to start over (deleting them)",
			tf.out, someNames(ckpts), tf.out)
	case len(other) > 0 && !tf.overwrite:
		return p, usageErrorf("train: --out %s holds files loft did not write (%s): give a new or empty folder, or --overwrite to write the adapter among them",
			tf.out, someNames(other))
	}
	if tf.initAdapter != "" {
		for _, ck := range ckpts {
			if within(tf.initAdapter, filepath.Join(tf.out, ck)) {
				return p, usageErrorf("train: --init-adapter %s lies in %s, which --overwrite would delete: copy it elsewhere first", tf.initAdapter, filepath.Join(tf.out, ck))
			}
		}
	}
	p.stale = ckpts
	return p, nil
}

// apply deletes the earlier run's checkpoints and says what is replaced.
func (p outPlan) apply(stderr io.Writer) error {
	if len(p.stale) > 0 {
		fmt.Fprintf(stderr, "loft: --overwrite: deleting the earlier run's %s in %s\n", strings.Join(p.stale, ", "), p.dir)
		for _, n := range p.stale {
			if err := os.RemoveAll(filepath.Join(p.dir, n)); err != nil {
				return fmt.Errorf("train: --overwrite: %w", err)
			}
		}
	}
	if p.replaces {
		fmt.Fprintf(stderr, "loft: replacing the adapter in %s\n", p.dir)
	}
	return nil
}

// isModelFile reports a model's config or weights (lora.IsWeightFile)
// other than the adapter's own.
func isModelFile(name string) bool {
	return name == "config.json" || lora.IsWeightFile(name) && name != lora.WeightsFile
}

// metricsEntry returns the entry of dir that holds the --metrics file
// (the file, or the folder above it), or "" when it lies elsewhere.
func metricsEntry(dir, metrics string) string {
	if metrics == "" {
		return ""
	}
	rel, ok := relWithin(metrics, dir)
	if !ok || rel == "." {
		return ""
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	return first
}

// within reports whether path is dir or lies inside it.
func within(path, dir string) bool {
	_, ok := relWithin(path, dir)
	return ok
}

// relWithin returns path relative to dir when it is dir or lies inside
// it, with links resolved (an --out reached through a link, or /tmp and
// /private/tmp on macOS, is the same folder); path need not exist yet.
func relWithin(path, dir string) (string, bool) {
	rel, err := filepath.Rel(realPath(dir), realPath(path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// realPath returns path absolute, with the links of its longest existing
// prefix resolved.
func realPath(path string) string {
	p := absPath(path)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if d := filepath.Dir(p); d != p {
		return filepath.Join(realPath(d), filepath.Base(p))
	}
	return p
}

// someNames lists up to four names, then how many more.
func someNames(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}

// applyError names the flag behind an error of lora.Apply: a target,
// layer list or exclusion that selects nothing is a bad flag value (exit
// 2), told by lora.SelectError's field.
func applyError(err error) error {
	var se *lora.SelectError
	if !errors.As(err, &se) {
		return err
	}
	flag := map[string]string{"Targets": "--target", "TargetRegex": "--target-regex", "Layers": "--layers", "Exclude": "--exclude"}[se.Field]
	if flag == "" {
		return err
	}
	return usageErrorf("train: %s: %s", flag, strings.TrimPrefix(err.Error(), "lora: "))
}

// checkWritableDir creates dir if needed and checks a file can be made
// in it.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".loft-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// adapterBase returns the base_model_name_or_path and the revision an
// adapter records for --model ref: a local folder or .gguf file as given,
// without a revision; a Hub reference as its plain repo id, which PEFT and
// transformers can load ("org/name@rev", "org/name-GGUF:Q4_K_M" and
// "org/name/file.gguf" are not ids), and the revision it names, if any,
// which PEFT keeps in a field of its own (PeftConfig.revision).
func adapterBase(ref string) (base, revision string) {
	if _, err := os.Stat(ref); err == nil {
		return ref, ""
	}
	r, err := hub.ParseRepo(ref)
	if err != nil {
		return ref, ""
	}
	if strings.Contains(ref, "@") { // a tag after ":" holds no "@"
		revision = r.Revision
	}
	return r.ID, revision
}

// absPaths makes paths absolute so a checkpoint names the same files from
// another working directory.
func absPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = absPath(p)
	}
	return out
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
