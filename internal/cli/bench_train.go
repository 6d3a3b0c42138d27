package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/optim"
)

// trainBenchResult is the JSON line `loft bench train` prints.
type trainBenchResult struct {
	Shape       string    `json:"shape"`
	Threads     int       `json:"threads"`
	Batch       int       `json:"batch"`
	Seq         int       `json:"seq"`
	Steps       int       `json:"steps"`
	Warmup      int       `json:"warmup"`
	LoraR       int       `json:"lora_r"`
	LoraAlpha   float64   `json:"lora_alpha"`
	LoraDropout float64   `json:"lora_dropout"`
	Targets     []string  `json:"targets"`
	GradCkpt    bool      `json:"grad_checkpoint"`
	Trainable   int       `json:"trainable_params"`
	StepTimes   []float64 `json:"step_times_s"` // timed steps, after warm-up
	StepMedian  float64   `json:"step_s_median"`
	TokensPerS  float64   `json:"tokens_per_s"` // B·T / median step
	PeakRSSMB   float64   `json:"peak_rss_mb"`
	// FlopsPerStep is the LoRA step's FLOP count by torch_lora_bench.py's
	// formula: per token 2·2·(base + head) matrix weights (forward and
	// input gradient, no dW for frozen weights), 6 per LoRA weight, and
	// attention 3·4·T·d per layer.
	FlopsPerStep float64 `json:"flops_per_step"`
	GFlops       float64 `json:"achieved_gflops"`
	// PeakGFlops is the fp32 peak measured in this run: an FMA-only loop in
	// assembly on every thread (kernels.PeakFlops), the best of a
	// measurement before the steps and one after.
	PeakGFlops float64 `json:"peak_gflops"`
	MFU        float64 `json:"mfu"`
	LastLoss   float64 `json:"last_loss"`
}

func newBenchTrainCmd() *cobra.Command {
	var (
		shape, targets                     string
		batch, seq, steps, warmup, threads int
		r                                  int
		alpha, dropout                     float64
		ckpt                               bool
		seed                               uint64
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Measure LoRA training speed and memory on random weights of a model shape",
		Long: `Builds a float32 model of --shape (` + strings.Join(model.ShapeNames(), ", ") + `) with random
weights, puts LoRA adapters on --target (default q_proj,v_proj; c_attn for
gpt2), and runs --warmup + --steps full training steps (forward with the
loss over every position, backward, AdamW on the adapters) on random
tokens of --batch x --seq. It prints one JSON line: the median step time
and tokens/s over the timed steps, the peak RSS, and the MFU: the FLOPs of
a LoRA step (the formula of ../shared/bench/torch_lora_bench.py) per
second over the float32 peak measured in the same run by an FMA loop.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if shape == "" {
				return usageErrorf("bench train: --shape is required (%s)", strings.Join(model.ShapeNames(), ", "))
			}
			switch {
			case batch < 1:
				return usageErrorf("--batch must be at least 1, got %d", batch)
			case seq < 2:
				return usageErrorf("--seq must be at least 2, got %d", seq)
			case steps < 1:
				return usageErrorf("--steps must be at least 1, got %d", steps)
			case warmup < 0:
				return usageErrorf("--warmup must not be negative, got %d", warmup)
			case threads < 0:
				return usageErrorf("--threads must be positive (0 for the default), got %d", threads)
			}
			sh, err := model.Shape(shape)
			if err != nil {
				return usageErrorf("bench train: --shape: %v", err)
			}
			tg := strings.Split(targets, ",")
			if targets == "" {
				tg = []string{"q_proj", "v_proj"}
				if sh.Arch == "gpt2" {
					tg = []string{"c_attn"}
				}
			}
			cfg := lora.Config{R: r, Alpha: alpha, Dropout: dropout, Targets: tg, Seed: seed}
			if err := cfg.Validate(); err != nil {
				return usageErrorf("bench train: %v", err)
			}
			defer setThreads(threads)()
			lm, info, err := model.NewRandom(sh, seed)
			if err != nil {
				return err
			}
			m, ok := lm.(model.Trainable)
			if !ok {
				return fmt.Errorf("bench train: %s models cannot be trained", info.Arch)
			}
			if seq > m.ContextLength() {
				return usageErrorf("--seq %d exceeds the %s context of %d tokens", seq, shape, m.ContextLength())
			}
			if ckpt {
				gc, ok := m.(gradCheckpointer)
				if !ok {
					return usageErrorf("--grad-checkpoint: %s models do not support it", info.Arch)
				}
				gc.SetGradCheckpoint(true)
			}
			// Count the frozen matrix weights before the adapters wrap them.
			var nBase int
			for _, s := range m.Slots() {
				if !s.Head {
					l := (*s.Layer).Base()
					nBase += l.In * l.Out
				}
			}
			ad, err := lora.Apply(m.Slots(), cfg)
			if err != nil {
				return usageErrorf("bench train: --target: %v", err)
			}
			ad.SetTraining(true)
			opt := optim.NewAdamW(ad.Params(), 0.01) // torch.optim.AdamW's default decay
			// The peak is measured before and after the steps and the
			// higher counts: a moment of load from elsewhere on a shared
			// machine can only lower a measurement.
			peak := kernels.PeakFlops()

			rng := rand.New(rand.NewPCG(seed, 2))
			ids, tgt := make([]int32, batch*seq), make([]int32, batch*seq)
			res := trainBenchResult{
				Shape: shape, Batch: batch, Seq: seq, Steps: steps, Warmup: warmup,
				LoraR: r, LoraAlpha: alpha, LoraDropout: dropout, Targets: tg, GradCkpt: ckpt,
				Trainable: ad.NumParams(),
			}
			for s := range warmup + steps {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				// As the PyTorch script: random tokens, every position but
				// the last predicts the next one.
				for i := range ids {
					ids[i] = int32(rng.IntN(info.Vocab))
				}
				for i := range tgt {
					if (i+1)%seq == 0 {
						tgt[i] = -100
					} else {
						tgt[i] = ids[i+1]
					}
				}
				start := time.Now()
				ad.ZeroGrad()
				sum, n, err := m.ForwardLoss(ids, tgt, batch, seq)
				if err != nil {
					return err
				}
				if err := m.Backward(1 / float32(n)); err != nil {
					return err
				}
				opt.Step(1e-4)
				dt := time.Since(start).Seconds()
				res.LastLoss = sum / float64(n)
				if s >= warmup {
					res.StepTimes = append(res.StepTimes, dt)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "  step %d %s%.3fs loss %.4f\n", s, map[bool]string{true: "(warmup) "}[s < warmup], dt, res.LastLoss)
			}
			res.PeakRSSMB = peakRSSMB()
			res.Threads = kernels.Threads()
			res.StepMedian = median(res.StepTimes)
			res.TokensPerS = float64(batch*seq) / res.StepMedian
			res.FlopsPerStep = trainFlops(info, nBase, ad.NumParams(), batch, seq)
			res.GFlops = res.FlopsPerStep / res.StepMedian / 1e9
			res.PeakGFlops = max(peak, kernels.PeakFlops()) / 1e9
			if res.PeakGFlops > 0 {
				res.MFU = res.GFlops / res.PeakGFlops
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&shape, "shape", "", "model shape: "+strings.Join(model.ShapeNames(), ", "))
	f.IntVar(&batch, "batch", 4, "sequences per step")
	f.IntVar(&seq, "seq", 256, "tokens per sequence")
	f.IntVar(&steps, "steps", 5, "timed steps; the median is reported")
	f.IntVar(&warmup, "warmup", 2, "untimed steps first")
	f.IntVar(&r, "lora-r", 16, "LoRA rank")
	f.Float64Var(&alpha, "lora-alpha", 32, "LoRA alpha")
	f.Float64Var(&dropout, "lora-dropout", 0.05, "LoRA dropout")
	f.StringVar(&targets, "target", "", "comma-separated modules to adapt, or all-linear (default q_proj,v_proj; c_attn for gpt2)")
	f.BoolVar(&ckpt, "grad-checkpoint", false, "recompute each layer's activations in backward")
	f.IntVar(&threads, "threads", 0, "threads to run on (0: LOFT_THREADS, else all cores)")
	f.Uint64Var(&seed, "seed", 1, "seed of the weights, adapters and tokens")
	return cmd
}

// trainFlops is torch_lora_bench.py's train_flops_per_step: per token
// 2·2·(base + head) for the forward and input-gradient products of frozen
// matrices (the head over every position), 6 per LoRA weight (forward, input
// and weight gradients), and attention 4·T·d per layer forward, 3x that with
// backward (d = heads·head size; the script uses the hidden size).
func trainFlops(in model.Info, nBase, nLora, B, T int) float64 {
	tok := float64(B * T)
	nHead := float64(in.Vocab) * float64(in.Hidden)
	mm := tok * (2*(float64(nBase)+nHead)*2 + 6*float64(nLora))
	attn := tok * float64(in.Layers) * 4 * float64(T) * float64(in.Hidden) * 3
	return mm + attn
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is not changed.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
