package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
)

// genBenchResult is the JSON line `loft bench generate` prints.
type genBenchResult struct {
	Shape        string `json:"shape"`
	Threads      int    `json:"threads"`
	Params       int    `json:"params"`
	PromptTokens int    `json:"prompt_tokens"`
	GenTokens    int    `json:"gen_tokens"`
	Reps         int    `json:"reps"`
	// PrefillTPS and DecodeTPS are the best of the timed runs; the medians
	// are there too.
	PrefillTPS       float64 `json:"prefill_tokens_per_s"`
	DecodeTPS        float64 `json:"decode_tokens_per_s"`
	PrefillMedianTPS float64 `json:"prefill_tokens_per_s_median"`
	DecodeMedianTPS  float64 `json:"decode_tokens_per_s_median"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	// WeightBytes is the float32 weight bytes one decoded token reads: every
	// matrix, the output head in full, one row of each embedding table.
	WeightBytes int64 `json:"weight_bytes_per_token"`
	// DecodeRepTPS is each timed run's decode speed.
	DecodeRepTPS []float64 `json:"decode_tokens_per_s_per_rep"`
	// ProbesGBps is the streaming-read bandwidth measured in the same run
	// before the first timed run and after each (kernels.ReadBandwidth: all
	// threads summing a buffer far larger than the caches, passes over at
	// least a second), as the median pass's rate: what a reader sustains
	// for that second, as a decoding run must. This machine's bandwidth
	// moves with load from elsewhere (between about 45 and 85 GB/s), so
	// each run is held to the bandwidth measured next to it. ReadGBps is
	// the highest probe, BoundTPS = ReadGBps / WeightBytes the decode speed
	// if every token only streamed the weights once at that bandwidth.
	ProbesGBps []float64 `json:"read_bandwidth_probes_gb_per_s"`
	ReadGBps   float64   `json:"read_bandwidth_gb_per_s"`
	BoundTPS   float64   `json:"decode_bound_tokens_per_s"`
	// RepFrac is each run's decode speed over its own bound, from the
	// higher of the probes just before and after it. (Where the peak RSS
	// cannot be reset, the probe's buffer would count in it: one probe runs
	// after all runs, and every run is held to it.) RepSteady tells the
	// runs whose two probes agree within steadyRatio: the bandwidth moved
	// during the others (from 82 to 50 GB/s between two probes 2 s apart),
	// so that their bound is not known, only that it lay between the two.
	// BoundFrac is the median fraction of the steady runs (of all runs when
	// none is steady), AllBoundFrac that of all runs.
	RepFrac      []float64 `json:"decode_fraction_of_bound_per_rep"`
	RepSteady    []bool    `json:"decode_rep_bandwidth_steady"`
	BoundFrac    float64   `json:"decode_fraction_of_bound"`
	AllBoundFrac float64   `json:"decode_fraction_of_bound_all_reps"`
	// BestProbesGBps is each probe's fastest pass, a burst above the
	// sustained rate, and BestBoundFrac the median fraction of the same
	// runs held to those instead: a stricter figure, kept for comparison.
	BestProbesGBps []float64 `json:"read_bandwidth_best_pass_probes_gb_per_s"`
	BestBoundFrac  float64   `json:"decode_fraction_of_best_pass_bound"`
}

func newBenchGenerateCmd() *cobra.Command {
	var (
		shape                string
		promptLen, gen       int
		threads, bandwidthMB int
		reps                 int
		seed                 uint64
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Measure prefill and decode speed on random weights of a model shape",
		Long: `Builds a float32 model of --shape (` + strings.Join(model.ShapeNames(), ", ") + `) with random
weights, runs a --prompt tokens prompt through it (prefill, one forward pass)
and decodes --gen tokens greedily with the KV cache, batch 1 (the first new
token comes from the prefill; decode times the other --gen - 1), after one
untimed warm-up run, --reps times, and prints one JSON line: prefill and
decode tokens/s (the best run, and the median), peak RSS, and the memory-bandwidth bound
of decoding: the float32 weight bytes a decoded token reads divided by the
streaming-read bandwidth measured in the same run (all threads summing a
--bandwidth-mb buffer for a second, before the timed runs and after each:
the median pass's rate, which a reader sustains), with the fraction of that
bound each run reached (held to the higher of the bandwidths measured just
before and after it) and their median over the runs whose two bandwidths
agree within 10% (the bandwidth of these machines moves with load from
elsewhere; a run across such a change has no known bound), and over all
runs. The stricter fraction against each probe's fastest pass is reported
too.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if shape == "" {
				return usageErrorf("bench generate: --shape is required (%s)", strings.Join(model.ShapeNames(), ", "))
			}
			if promptLen < 1 || gen < 1 {
				return usageErrorf("bench generate: --prompt and --gen must be at least 1, got %d and %d", promptLen, gen)
			}
			if threads < 0 {
				return usageErrorf("--threads must be positive (0 for the default), got %d", threads)
			}
			if reps < 1 {
				return usageErrorf("--reps must be at least 1, got %d", reps)
			}
			if bandwidthMB < 1 {
				return usageErrorf("--bandwidth-mb must be at least 1, got %d", bandwidthMB)
			}
			sh, err := model.Shape(shape)
			if err != nil {
				return usageErrorf("bench generate: --shape: %v", err)
			}
			defer setThreads(threads)()
			lm, info, err := model.NewRandom(sh, seed)
			if err != nil {
				return err
			}
			if promptLen+gen-1 > lm.ContextLength() {
				return usageErrorf("bench generate: --prompt %d + --gen %d exceed the %s context of %d tokens", promptLen, gen, shape, lm.ContextLength())
			}
			rng := rand.New(rand.NewPCG(seed, 1))
			prompt := make([]int, promptLen)
			for i := range prompt {
				prompt[i] = rng.IntN(lm.VocabSize())
			}
			// A whole run first, as the PyTorch baseline's warm-up, starts
			// the worker threads, faults in the weights and the memory a
			// run uses and sizes the buffers, so the timed runs measure
			// steady speed: after a 2-token warm-up the first timed run
			// faulted in the rest of its KV cache while decoding (7.5 µs a
			// page on memory new to this virtual machine, against 0.2 µs
			// on reused memory) and decoded 4-8% slower than the others.
			if _, err := generate.Generate(cmd.Context(), lm, []generate.Request{{Prompt: prompt, MaxNewTokens: gen}}, generate.Options{}); err != nil {
				return err
			}
			// Each probe's buffer is unmapped and the peak RSS reset after
			// it, so that the peak is the model's: the peak so far is kept
			// first. A collection frees the last run's buffers for the next
			// to reuse, so that the peak is one run's; they are not returned
			// to the OS (debug.FreeOSMemory), which made the next run fault
			// them in afresh: 3-8% slower decoding, paired, at 75-83 GB/s.
			canReset := resetPeakRSS() == nil
			var peak float64
			var probes, best []float64
			probe := func() error {
				peak = max(peak, peakRSSMB())
				bw := kernels.ReadBandwidth(bandwidthMB << 20)
				probes, best = append(probes, bw.Median/1e9), append(best, bw.Best/1e9)
				if !canReset {
					return nil
				}
				runtime.GC()
				return resetPeakRSS()
			}
			if canReset {
				if err := probe(); err != nil {
					return err
				}
			}
			var pre, dec []float64
			for range reps {
				out, err := generate.Generate(cmd.Context(), lm, []generate.Request{{Prompt: prompt, MaxNewTokens: gen}}, generate.Options{})
				if err != nil {
					return err
				}
				pre, dec = append(pre, out.Stats.PrefillRate()), append(dec, out.Stats.DecodeRate())
				if canReset {
					if err := probe(); err != nil {
						return err
					}
				}
			}
			if !canReset {
				if err := probe(); err != nil {
					return err
				}
			}
			r := genBenchResult{
				Shape: shape, Threads: kernels.Threads(), Params: info.Params,
				PromptTokens: promptLen, GenTokens: gen, Reps: reps,
				PrefillTPS: slices.Max(pre), DecodeTPS: slices.Max(dec),
				PrefillMedianTPS: median(pre), DecodeMedianTPS: median(dec),
				PeakRSSMB: peak, WeightBytes: 4 * int64(weightsPerToken(info)),
				DecodeRepTPS: dec, ProbesGBps: probes, ReadGBps: slices.Max(probes),
				BestProbesGBps: best,
			}
			r.BoundTPS = r.ReadGBps * 1e9 / float64(r.WeightBytes)
			r.RepFrac = repFractions(dec, r.ProbesGBps, r.WeightBytes)
			r.RepSteady = steadyReps(len(dec), r.ProbesGBps)
			r.BoundFrac = median(pick(r.RepFrac, r.RepSteady))
			r.AllBoundFrac = median(r.RepFrac)
			r.BestBoundFrac = median(pick(repFractions(dec, r.BestProbesGBps, r.WeightBytes), r.RepSteady))
			return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&shape, "shape", "", "model shape: "+strings.Join(model.ShapeNames(), ", "))
	f.IntVar(&promptLen, "prompt", 256, "prompt tokens (prefill)")
	f.IntVar(&gen, "gen", 128, "tokens to generate (decode)")
	f.IntVar(&threads, "threads", 0, "threads to run on (0: LOFT_THREADS, else all cores)")
	f.IntVar(&reps, "reps", 3, "timed runs; the best and the median are reported")
	f.IntVar(&bandwidthMB, "bandwidth-mb", 512, "size of the buffer the read bandwidth is measured on, MiB")
	f.Uint64Var(&seed, "seed", 1, "seed of the random weights and prompt")
	return cmd
}

// weightsPerToken returns the parameters one decoded token reads: all of
// them, except that the input embedding table (unless tied to the output
// head, which reads it whole) and GPT-2's position table give one row.
func weightsPerToken(in model.Info) int {
	n := in.Params + in.Hidden // the token's embedding row
	if !in.Tied {
		n -= in.Vocab * in.Hidden
	}
	if in.Arch == "gpt2" {
		n -= (in.ContextLength - 1) * in.Hidden // one row of the position table
	}
	return n
}

// repFractions returns each run's decode speed dec[r] (tokens/s) over
// the bound of the bandwidth measured next to it (GB/s): the higher of
// probes r and r+1 when there is one probe before the runs and one after
// each, else the single probe, for weight bytes per token.
func repFractions(dec, probesGBps []float64, bytes int64) []float64 {
	fr := make([]float64, len(dec))
	for i, d := range dec {
		bw := probesGBps[0]
		if len(probesGBps) == len(dec)+1 {
			bw = max(probesGBps[i], probesGBps[i+1])
		}
		fr[i] = d * float64(bytes) / (bw * 1e9)
	}
	return fr
}

// steadyRatio is how far apart the bandwidths measured before and after a
// run may be for the run to have a known bound: a run between 50 and 82
// GB/s decoded at some of each, and holding it to the higher made one
// SmolLM-135M run read as 0.53 of its bound, the others 0.85.
const steadyRatio = 1.1

// steadyReps tells, for each of n runs, whether the probes before and
// after it (probesGBps holds one before the runs and one after each)
// agree within steadyRatio. With any other count of probes (one, after
// all runs) every run counts as steady: nothing tells them apart.
func steadyReps(n int, probesGBps []float64) []bool {
	st := make([]bool, n)
	for i := range st {
		st[i] = len(probesGBps) != n+1 ||
			max(probesGBps[i], probesGBps[i+1]) <= steadyRatio*min(probesGBps[i], probesGBps[i+1])
	}
	return st
}

// pick returns the values v[i] where keep[i], or all of v when keep holds
// no true.
func pick(v []float64, keep []bool) []float64 {
	var out []float64
	for i, k := range keep {
		if k {
			out = append(out, v[i])
		}
	}
	if len(out) == 0 {
		return v
	}
	return out
}

// resetPeakRSS starts the peak resident set size (VmHWM) afresh from the
// current one, by writing 5 to /proc/self/clear_refs (Linux 4.0 and later).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB returns the peak resident set size in MiB, VmHWM from
// /proc/self/status, or 0 where that file is absent (not Linux).
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
