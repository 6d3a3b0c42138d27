package cli

import (
	"encoding/json"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/model"
)

func TestBenchGenerateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "generate"},
		{"bench", "generate", "--shape", "no-such-model"},
		{"bench", "generate", "--shape", "gpt2", "--prompt", "0"},
		{"bench", "generate", "--shape", "gpt2", "--gen", "0"},
		{"bench", "generate", "--shape", "gpt2", "--threads", "-1"},
		{"bench", "generate", "--shape", "gpt2", "--bandwidth-mb", "0"},
		{"bench", "generate", "--shape", "gpt2", "--reps", "0"},
	} {
		if code, _, errOut := run(t, args...); code != ExitUsage {
			t.Errorf("%q: code %d, want %d; stderr %q", args, code, ExitUsage, errOut)
		}
	}
}

// TestWeightsPerToken checks the bytes a decoded token reads against
// parameter counts worked out by hand.
func TestWeightsPerToken(t *testing.T) {
	// SmolLM-135M, tied: per layer q, o 576², k, v 576·192, gate, up, down
	// 576·1536, two norms: 3,540,096; x30 = 106,202,880; embedding
	// 49152·576 = 28,311,552 (read whole by the tied head); final norm 576.
	smol := model.Info{Arch: "llama", Params: 106202880 + 28311552 + 576, Vocab: 49152, Hidden: 576, Tied: true, ContextLength: 2048}
	if got, want := weightsPerToken(smol), 134515008+576; got != want {
		t.Errorf("smollm-135m: %d, want %d", got, want)
	}
	// Untied: the embedding table gives one row, the head is read whole.
	untied := smol
	untied.Tied = false
	untied.Params += 49152 * 576
	if got, want := weightsPerToken(untied), 134515008+576; got != want {
		t.Errorf("untied: %d, want %d", got, want)
	}
	// GPT-2 small: 124,439,808 parameters, of which the 1024x768 position
	// table gives one row.
	g := model.Info{Arch: "gpt2", Params: 124439808, Vocab: 50257, Hidden: 768, Tied: true, ContextLength: 1024}
	if got, want := weightsPerToken(g), 124439808-1024*768+2*768; got != want {
		t.Errorf("gpt2: %d, want %d", got, want)
	}
}

func TestBenchGenerateRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 124M-parameter model")
	}
	code, out, errOut := run(t, "bench", "generate", "--shape", "gpt2", "--prompt", "8", "--gen", "3", "--bandwidth-mb", "64", "--reps", "2")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var r genBenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("not one JSON line: %q (%v)", out, err)
	}
	if r.Reps != 2 || r.DecodeMedianTPS > r.DecodeTPS || r.PrefillMedianTPS > r.PrefillTPS {
		t.Errorf("best below median: %+v", r)
	}
	if r.Params != 124439808 || r.PrefillTPS <= 0 || r.DecodeTPS <= 0 || r.PeakRSSMB < 400 || r.ReadGBps < 0.1 || r.ReadGBps > 5000 {
		t.Errorf("implausible result %+v", r)
	}
	if len(r.DecodeRepTPS) != 2 || len(r.RepFrac) != 2 || r.DecodeTPS != max(r.DecodeRepTPS[0], r.DecodeRepTPS[1]) {
		t.Fatalf("per-run figures missing: %+v", r)
	}
	if n := len(r.ProbesGBps); n != 1 && n != 3 {
		t.Fatalf("%d bandwidth probes, want 3 (1 where the peak RSS cannot be reset)", n)
	}
	if r.ReadGBps != slices.Max(r.ProbesGBps) {
		t.Errorf("bandwidth %v is not the highest probe of %v", r.ReadGBps, r.ProbesGBps)
	}
	for i, f := range r.RepFrac {
		bw := r.ProbesGBps[0]
		if len(r.ProbesGBps) == 3 {
			bw = max(r.ProbesGBps[i], r.ProbesGBps[i+1])
		}
		if d := f - r.DecodeRepTPS[i]*float64(r.WeightBytes)/(bw*1e9); d > 1e-9 || d < -1e-9 {
			t.Errorf("run %d: fraction %v is not decode / (bandwidth / bytes)", i, f)
		}
	}
	if len(r.RepSteady) != 2 || r.AllBoundFrac != median(r.RepFrac) || r.BoundFrac != median(pick(r.RepFrac, r.RepSteady)) {
		t.Errorf("fraction %v (all runs %v) is not the median of %v over the steady runs %v", r.BoundFrac, r.AllBoundFrac, r.RepFrac, r.RepSteady)
	}
	if len(r.BestProbesGBps) != len(r.ProbesGBps) {
		t.Fatalf("%d best-pass probes for %d probes", len(r.BestProbesGBps), len(r.ProbesGBps))
	}
	for i, b := range r.BestProbesGBps {
		if b < r.ProbesGBps[i] {
			t.Errorf("probe %d: best pass %v below the median pass %v", i, b, r.ProbesGBps[i])
		}
	}
	if want := median(pick(repFractions(r.DecodeRepTPS, r.BestProbesGBps, r.WeightBytes), r.RepSteady)); r.BestBoundFrac != want || r.BestBoundFrac > r.BoundFrac {
		t.Errorf("best-pass fraction %v, want %v (at most the fraction %v)", r.BestBoundFrac, want, r.BoundFrac)
	}
}

// TestRepFractions checks the pairing of runs with probes by hand: with a
// probe before and after each run, run i is held to the higher of probes i
// and i+1; with one probe, every run to it.
func TestRepFractions(t *testing.T) {
	const bytes = 500e6 // 0.5 GB a token
	got := repFractions([]float64{80, 100}, []float64{50, 40, 100}, bytes)
	want := []float64{80 * 0.5 / 50, 100 * 0.5 / 100}
	if !slices.Equal(got, want) {
		t.Errorf("paired: %v, want %v", got, want)
	}
	got = repFractions([]float64{80, 100}, []float64{50}, bytes)
	want = []float64{80 * 0.5 / 50, 100 * 0.5 / 50}
	if !slices.Equal(got, want) {
		t.Errorf("one probe: %v, want %v", got, want)
	}
}

// TestResetPeakRSS checks that the peak RSS, once reset, no longer counts a
// buffer freed before the reset (the bandwidth probe's, in bench generate).
func TestResetPeakRSS(t *testing.T) {
	if raceDetector {
		t.Skip("under -race the detector's shadow of the freed 256 MB stays resident")
	}
	if err := resetPeakRSS(); err != nil {
		t.Skipf("cannot reset the peak RSS here: %v", err)
	}
	before := peakRSSMB()
	buf := make([]byte, 256<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	if peakRSSMB() < before+200 {
		t.Fatalf("peak %v MB after touching 256 MB from %v", peakRSSMB(), before)
	}
	buf = nil
	debug.FreeOSMemory()
	if err := resetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	if got := peakRSSMB(); got > before+100 {
		t.Fatalf("peak %v MB after the reset, want about %v", got, before)
	}
}

// TestSteadyReps: a run counts in the median fraction when the probes
// before and after it agree within 10%; with no steady run, all count.
func TestSteadyReps(t *testing.T) {
	st := steadyReps(3, []float64{80, 84, 50, 54.9})
	if want := []bool{true, false, true}; !slices.Equal(st, want) {
		t.Errorf("steady %v, want %v", st, want)
	}
	if got, want := pick([]float64{0.85, 0.53, 0.9}, st), []float64{0.85, 0.9}; !slices.Equal(got, want) {
		t.Errorf("picked %v, want %v", got, want)
	}
	if st := steadyReps(2, []float64{50, 80, 50}); slices.Contains(st, true) {
		t.Errorf("probes 50, 80, 50: steady %v, want none", st)
	} else if got := pick([]float64{0.6, 0.7}, st); !slices.Equal(got, []float64{0.6, 0.7}) {
		t.Errorf("no steady run: picked %v, want all", got)
	}
	if st := steadyReps(2, []float64{50}); !slices.Equal(st, []bool{true, true}) {
		t.Errorf("one probe: steady %v, want all", st)
	}
}
