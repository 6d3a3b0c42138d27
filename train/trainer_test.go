package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/optim"
)

func TestBigramGradient(t *testing.T) {
	// The fake's hand-written backward against central differences.
	m := newBigram(5, 1, 0)
	b := randBatches(1, 2, 6, 5, 7)[0]
	loss := func() float64 {
		s, n, err := m.ForwardLoss(b.IDs, b.Targets, b.B, b.T)
		if err != nil {
			t.Fatal(err)
		}
		return s / float64(n)
	}
	loss()
	clear(m.P.G)
	m.Backward(float32(1 / float64(b.Count())))
	const h = 1e-2
	for _, i := range []int{0, 3, 7, 12, 24} {
		w := m.P.W[i]
		m.P.W[i] = w + h
		up := loss()
		m.P.W[i] = w - h
		down := loss()
		m.P.W[i] = w
		fd := (up - down) / (2 * h)
		if math.Abs(fd-float64(m.P.G[i])) > 1e-4 {
			t.Errorf("dP[%d] = %v, central difference %v", i, m.P.G[i], fd)
		}
	}
}

func newTrainer(t *testing.T, m *bigram, data Data, cfg Config) *Trainer {
	t.Helper()
	params := []optim.Param{m.P}
	return &Trainer{
		Model: m, Params: params, Opt: optim.NewAdamW(params, 0.01), Train: data, Config: cfg,
		SaveAdapter: saveParams(params),
		RNGs:        map[string]RNG{"dropout": m.rng},
		Identity:    map[string]any{"lora_r": 8, "data": "fake"},
		Resolved:    map[string]any{"lora_r": 8},
	}
}

func TestStepTokenWeightedAccumulation(t *testing.T) {
	// Two micro-batches with different counted tokens make the same step
	// as one batch holding all their rows: the loss is the mean over every
	// counted token of the step, not the mean of the micro-batch means.
	mb := randBatches(2, 2, 5, 6, 11)
	if mb[0].Count() == mb[1].Count() {
		t.Fatal("test needs micro-batches with different counts")
	}
	whole := Batch{B: 4, T: 5, IDs: slices.Concat(mb[0].IDs, mb[1].IDs), Targets: slices.Concat(mb[0].Targets, mb[1].Targets)}
	cfg := Config{Steps: 1, GradAccum: 2, MaxGradNorm: 0.2, Schedule: optim.Schedule{Kind: optim.Constant, LR: 1e-2}}

	a := newBigram(6, 5, 0)
	ta := newTrainer(t, a, nil, cfg)
	sa, err := ta.Step(context.Background(), mb)
	if err != nil {
		t.Fatal(err)
	}
	b := newBigram(6, 5, 0)
	tb := newTrainer(t, b, nil, cfg)
	sb, err := tb.Step(context.Background(), []Batch{whole})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sa.Loss-sb.Loss) > 1e-12 || sa.Tokens != sb.Tokens || math.Abs(sa.GradNorm-sb.GradNorm) > 1e-6 {
		t.Errorf("accumulated step %+v, one batch %+v", sa, sb)
	}
	var worst float64
	for i := range a.P.W {
		worst = max(worst, math.Abs(float64(a.P.W[i]-b.P.W[i])))
	}
	if worst > 1e-7 {
		t.Errorf("parameters differ by %g", worst)
	}
	// The mean of the two micro-batch means differs: the test can tell.
	c := newBigram(6, 5, 0)
	s0, n0, _ := c.ForwardLoss(mb[0].IDs, mb[0].Targets, 2, 5)
	s1, n1, _ := c.ForwardLoss(mb[1].IDs, mb[1].Targets, 2, 5)
	if math.Abs((s0/float64(n0)+s1/float64(n1))/2-sa.Loss) < 1e-6 {
		t.Error("mean of means equals the token-weighted loss; pick other batches")
	}
	if sa.GradNorm <= cfg.MaxGradNorm {
		t.Errorf("grad norm %v does not exceed the clip %v: clipping untested", sa.GradNorm, cfg.MaxGradNorm)
	}
	if sa.LR != 1e-2 || ta.StepNum() != 1 {
		t.Errorf("lr %v, steps %d", sa.LR, ta.StepNum())
	}
}

// readMetrics returns the step lines' losses and the validation lines.
func readMetrics(t *testing.T, path string) (steps []map[string]float64, vals []map[string]float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		if _, ok := m["val_loss"]; ok {
			vals = append(vals, m)
		} else {
			steps = append(steps, m)
		}
	}
	return steps, vals
}

func TestRunMetricsEvalAndOutputs(t *testing.T) {
	dir := t.TempDir()
	data := randBatches(3, 2, 6, 7, 21)
	valid := randBatches(2, 2, 6, 7, 22)
	m := newBigram(7, 3, 0)
	cfg := Config{Steps: 5, GradAccum: 2, MaxGradNorm: 1, EvalEvery: 2, OutDir: filepath.Join(dir, "out"),
		MetricsPath: filepath.Join(dir, "m.jsonl"),
		Schedule:    optim.Schedule{Kind: optim.Linear, LR: 1e-2, Warmup: 2, Total: 5}}
	tr := newTrainer(t, m, data, cfg)
	tr.Valid = valid
	var bar bytes.Buffer
	tr.Progress = &bar
	sum, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	steps, vals := readMetrics(t, cfg.MetricsPath)
	if len(steps) != 5 {
		t.Fatalf("%d step lines, want 5", len(steps))
	}
	var tokens float64
	for i, s := range steps {
		// Each epoch of 3 batches is a step of batches 0 and 1 and a
		// shorter one of batch 2.
		for _, k := range [][]int{{0, 1}, {2}}[i%2] {
			tokens += float64(data[k].Count())
		}
		if s["step"] != float64(i+1) || s["tokens"] != tokens || math.Abs(s["lr"]-cfg.Schedule.At(i)) > 1e-15 {
			t.Errorf("line %d: %v (want tokens %v, lr %v)", i, s, tokens, cfg.Schedule.At(i))
		}
		for _, k := range []string{"loss", "grad_norm", "tokens_per_s", "elapsed_s"} {
			if _, ok := s[k]; !ok {
				t.Errorf("line %d lacks %s", i, k)
			}
		}
	}
	if steps[0]["lr"] != 0 || steps[0]["loss"] == steps[1]["loss"] {
		t.Errorf("step 1 lr %v (warmup starts at 0), losses %v %v", steps[0]["lr"], steps[0]["loss"], steps[1]["loss"])
	}
	// Validation after steps 2 and 4 and at the end (5).
	if len(vals) != 3 || vals[0]["step"] != 2 || vals[1]["step"] != 4 || vals[2]["step"] != 5 {
		t.Fatalf("validation lines %v", vals)
	}
	// The last validation equals Eval of the final parameters.
	loss, _, err := tr.Eval(context.Background(), valid)
	if err != nil {
		t.Fatal(err)
	}
	if vals[2]["val_loss"] != loss || math.Abs(vals[2]["val_ppl"]-math.Exp(loss)) > 1e-9 || sum.ValLoss != loss {
		t.Errorf("final validation %v, Eval %v, summary %v", vals[2], loss, sum.ValLoss)
	}
	if sum.Steps != 5 || sum.Tokens != int64(tokens) {
		t.Errorf("summary %+v", sum)
	}
	png, err := os.ReadFile(filepath.Join(cfg.OutDir, "loss.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("loss.png: %v (%d bytes)", err, len(png))
	}
	if _, err := os.Stat(filepath.Join(cfg.OutDir, adapterFile)); err != nil {
		t.Error(err)
	}
	if !strings.Contains(bar.String(), "loss ") || !strings.Contains(bar.String(), "tok/s") {
		t.Errorf("progress bar %q lacks loss and tok/s", bar.String())
	}
}

// runSteps trains a fresh model with dropout on shuffled data (3 batches:
// each epoch is a step of 2 micro-batches and a step of 1) until steps,
// resuming from resume when set. cancelAt > 0 cancels the run during that
// forward call.
func runSteps(t *testing.T, out string, steps, saveEvery int, resume string, cancelAt int) (*Trainer, *bigram, error) {
	t.Helper()
	return runStepsEval(t, out, steps, saveEvery, resume, cancelAt, 0)
}

// runStepsEval is runSteps with validation every evalEvery steps (0: none)
// on 2 batches, dropout off during it.
func runStepsEval(t *testing.T, out string, steps, saveEvery int, resume string, cancelAt, evalEvery int) (*Trainer, *bigram, error) {
	t.Helper()
	m := newBigram(6, 9, 0.25)
	data := shuffled{randBatches(3, 2, 5, 6, 31), 77}
	cfg := Config{Steps: 6, GradAccum: 2, MaxGradNorm: 1, SaveEvery: saveEvery, OutDir: out,
		MetricsPath: filepath.Join(out, "metrics.jsonl"),
		Schedule:    optim.Schedule{Kind: optim.Cosine, LR: 5e-2, Warmup: 1, Total: 6}}
	tr := newTrainer(t, m, data, cfg)
	if evalEvery > 0 {
		tr.Valid, tr.Config.EvalEvery = randBatches(2, 2, 5, 6, 32), evalEvery
		tr.SetTraining = func(on bool) { m.evaluating = !on }
	}
	if resume != "" {
		if _, err := tr.Resume(resume); err != nil {
			t.Fatal(err)
		}
	}
	tr.Config.Steps = steps
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.onCall = func(n int) {
		if n == cancelAt {
			cancel()
		}
	}
	_, err := tr.Run(ctx)
	return tr, m, err
}

// sameRun checks that two metrics files hold the same six steps and the
// final parameters agree bit for bit.
func sameRun(t *testing.T, dirA, dirB string, a, b *bigram) {
	t.Helper()
	ma, _ := readMetrics(t, filepath.Join(dirA, "metrics.jsonl"))
	mb, _ := readMetrics(t, filepath.Join(dirB, "metrics.jsonl"))
	if len(ma) != 6 || len(mb) != 6 {
		t.Fatalf("%d and %d metric lines, want 6 each", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i]["loss"] != mb[i]["loss"] || ma[i]["grad_norm"] != mb[i]["grad_norm"] || ma[i]["tokens"] != mb[i]["tokens"] || ma[i]["step"] != mb[i]["step"] || ma[i]["lr"] != mb[i]["lr"] {
			t.Errorf("step %d: straight %v, resumed %v", i+1, ma[i], mb[i])
		}
	}
	if !slices.Equal(a.P.W, b.P.W) {
		t.Error("final parameters differ between the straight and the resumed run")
	}
	// The dropout draws matter: a model without dropout has other losses.
	if ma[3]["loss"] == ma[4]["loss"] {
		t.Error("degenerate losses")
	}
}

func TestResumeReproducesLosses(t *testing.T) {
	straightDir, splitDir := t.TempDir(), t.TempDir()
	_, straight, err := runSteps(t, straightDir, 6, 0, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runSteps(t, splitDir, 3, 3, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(splitDir, "checkpoint-3", "optimizer.safetensors")); err != nil {
		t.Fatal(err)
	}
	_, resumed, err := runSteps(t, splitDir, 6, 3, splitDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, straightDir, splitDir, straight, resumed)
}

// TestResumeAfterLaterSteps: a run that went past its last checkpoint
// (steps 4 and 5 after checkpoint-3, then a crash) resumes from the
// checkpoint; the metrics file then holds each step once, as the straight
// run's, and checkpoint folders are ordinary 0755 folders.
func TestResumeAfterLaterSteps(t *testing.T) {
	straightDir, dir := t.TempDir(), t.TempDir()
	_, straight, err := runSteps(t, straightDir, 6, 0, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runSteps(t, dir, 5, 3, "", 0); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "checkpoint-3")
	if st, err := os.Stat(ck); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, %v; want drwxr-xr-x", ck, st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(ck, stateFile)); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v, %v; want -rw-r--r--", stateFile, st.Mode(), err)
	}
	_, resumed, err := runSteps(t, dir, 6, 0, ck, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, straightDir, dir, straight, resumed)
}

func TestInterruptSavesAndResumes(t *testing.T) {
	straightDir, dir := t.TempDir(), t.TempDir()
	_, straight, err := runSteps(t, straightDir, 6, 0, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Forwards 1-3 are steps 1 and 2 (2 and 1 micro-batches); forward 4 is
	// step 3's first micro-batch: step 3 is abandoned before its second,
	// after the first drew dropout masks.
	_, _, err = runSteps(t, dir, 6, 0, "", 4)
	want := "--resume " + filepath.Join(dir, "checkpoint-2")
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want ErrInterrupted and %q", err, want)
	}
	_, resumed, err := runSteps(t, dir, 6, 0, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, straightDir, dir, straight, resumed)
}

// TestInterruptDuringValidation: Ctrl-C while step 2's validation runs
// keeps step 2 (checkpoint-2, RNGs as step 2 left them) and the resumed
// run reproduces the straight one, step 2's validation included (it was
// lost: the resumed run went on to step 3).
func TestInterruptDuringValidation(t *testing.T) {
	straightDir, dir := t.TempDir(), t.TempDir()
	_, straight, err := runStepsEval(t, straightDir, 6, 0, "", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Forwards 1-3 are steps 1 and 2; forward 4 is the first validation batch.
	_, _, err = runStepsEval(t, dir, 6, 0, "", 4, 2)
	want := "--resume " + filepath.Join(dir, "checkpoint-2")
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want ErrInterrupted and %q", err, want)
	}
	_, resumed, err := runStepsEval(t, dir, 6, 0, dir, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, straightDir, dir, straight, resumed)
	_, va := readMetrics(t, filepath.Join(straightDir, "metrics.jsonl"))
	_, vb := readMetrics(t, filepath.Join(dir, "metrics.jsonl"))
	if len(va) != 3 || !reflect.DeepEqual(va, vb) {
		t.Errorf("validations: straight %v, interrupted and resumed %v", va, vb)
	}
}

func TestResumeRefusesAnotherConfig(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runSteps(t, dir, 2, 2, "", 0); err != nil {
		t.Fatal(err)
	}
	m := newBigram(6, 9, 0.25)
	tr := newTrainer(t, m, shuffled{randBatches(3, 2, 5, 6, 31), 77}, Config{Steps: 6, GradAccum: 1, OutDir: dir})
	tr.Identity = map[string]any{"lora_r": 16, "data": "fake"}
	_, err := tr.Resume(dir)
	if err == nil || !strings.Contains(err.Error(), "lora_r: checkpoint 8, now 16") {
		t.Fatalf("resume with another r: %v", err)
	}
	// A parameter the checkpoint lacks (another target set) is named.
	tr.Identity = map[string]any{"lora_r": 8, "data": "fake"}
	tr.Params[0].Name = "base_model.model.other.lora_A.weight"
	_, err = tr.Resume(dir)
	if err == nil || !strings.Contains(err.Error(), "base_model.model.other.lora_A.weight") {
		t.Fatalf("resume with another parameter: %v", err)
	}
	if _, err := tr.Resume(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no checkpoint-<step>") {
		t.Fatalf("resume from an empty folder: %v", err)
	}
	// A damaged state file is refused, not turned into a negative data
	// position.
	tr.Params[0].Name = "base_model.model.table.lora_A.weight"
	statePath := filepath.Join(dir, "checkpoint-2", stateFile)
	buf, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	damaged := strings.Replace(string(buf), `"micro_batches": 3`, `"micro_batches": -3`, 1)
	if damaged == string(buf) {
		t.Fatalf("no micro_batches 3 in %s", buf)
	}
	os.WriteFile(statePath, []byte(damaged), 0o644)
	if _, err := tr.Resume(dir); err == nil || !strings.Contains(err.Error(), "micro_batches -3") {
		t.Fatalf("resume from a damaged state: %v", err)
	}
}

func TestNaNStopsAndKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	m := newBigram(6, 9, 0)
	m.nanAt = 4 // the 4th forward: step 4
	cfg := Config{Steps: 6, GradAccum: 1, SaveEvery: 2, OutDir: dir, Schedule: optim.Schedule{Kind: optim.Constant, LR: 1e-2}}
	tr := newTrainer(t, m, randBatches(3, 2, 5, 6, 31), cfg)
	_, err := tr.Run(context.Background())
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Step != 4 || !strings.Contains(err.Error(), "step 4: the loss is NaN") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "checkpoint-2")) {
		t.Fatalf("err = %v", err)
	}
	if tr.StepNum() != 3 {
		t.Errorf("steps done %d, want 3", tr.StepNum())
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint-4")); !os.IsNotExist(err) {
		t.Errorf("checkpoint-4 exists after a NaN (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, adapterFile)); !os.IsNotExist(err) {
		t.Errorf("final adapter written after a NaN (%v)", err)
	}
}

// TestRunRefusesScheduleWithoutTotal: a linear or cosine schedule built
// without the run's total steps gave learning rate 0 at every step, and a
// run then finished without moving a parameter; one ending before the
// run's steps stays at 0 (linear) or rises again (cosine) past its end.
func TestRunRefusesScheduleWithoutTotal(t *testing.T) {
	cases := []struct {
		s    optim.Schedule
		want string
	}{
		{optim.Schedule{Kind: optim.Linear, LR: 1e-2}, "train: Schedule: a linear schedule needs the run's total steps, got 0"},
		{optim.Schedule{Kind: "cosine-with-restarts", LR: 1e-2, Total: 3}, `unknown schedule "cosine-with-restarts"`},
		{optim.Schedule{Kind: optim.Cosine, LR: 1e-2, Total: 2}, "the cosine schedule ends at step 2, before the run's 3 steps"},
	}
	for _, c := range cases {
		m := newBigram(6, 9, 0)
		before := slices.Clone(m.P.W)
		cfg := Config{Steps: 3, GradAccum: 1, OutDir: t.TempDir(), Schedule: c.s}
		tr := newTrainer(t, m, randBatches(3, 2, 5, 6, 31), cfg)
		if _, err := tr.Run(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
		if m.calls != 0 || !slices.Equal(before, m.P.W) {
			t.Errorf("%+v: %d forwards before the error", c.s, m.calls)
		}
	}
}

// TestValidationNaNStops: a NaN validation loss stops the run like a NaN
// training loss (the last good checkpoint named, no final adapter), and a
// perplexity that overflows is written as null, keeping the metrics file
// JSON.
func TestValidationNaNStops(t *testing.T) {
	dir := t.TempDir()
	m := newBigram(6, 9, 0)
	m.nanAt = 3 // steps 1 and 2 are forwards 1 and 2; step 2's validation starts at 3
	cfg := Config{Steps: 6, GradAccum: 1, SaveEvery: 1, EvalEvery: 2, OutDir: dir, MetricsPath: filepath.Join(dir, "m.jsonl"),
		Schedule: optim.Schedule{Kind: optim.Constant, LR: 1e-2}}
	tr := newTrainer(t, m, randBatches(3, 2, 5, 6, 31), cfg)
	tr.Valid = randBatches(2, 2, 5, 6, 32)
	_, err := tr.Run(context.Background())
	var nf *NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "step 2: the validation loss is NaN") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "checkpoint-1")) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, adapterFile)); !os.IsNotExist(err) {
		t.Errorf("final adapter written after a NaN validation (%v)", err)
	}
	steps, vals := readMetrics(t, cfg.MetricsPath)
	if len(steps) != 2 || len(vals) != 0 {
		t.Errorf("%d step and %d validation lines, want 2 and 0", len(steps), len(vals))
	}
	b, err := json.Marshal(valLine{Step: 1, ValLoss: 800, ValPPL: jsonFloat(math.Exp(800))})
	if err != nil || string(b) != `{"step":1,"val_loss":800,"val_ppl":null}` {
		t.Errorf("overflowing perplexity: %s, %v", b, err)
	}
}

// recorded is Data that notes which (epoch, batch) each step asks for.
type recorded struct {
	Data
	tr   *Trainer
	seen map[int][][2]int // step done when asked -> (epoch, batch) in order
}

func (r *recorded) Batch(epoch, i int) (Batch, error) {
	r.seen[r.tr.StepNum()] = append(r.seen[r.tr.StepNum()], [2]int{epoch, i})
	return r.Data.Batch(epoch, i)
}

// TestEpochEndsItsSteps: 10 batches with 4 micro-batches per step are 3
// steps an epoch, of 4, 4 and 2 micro-batches, every batch once, as
// transformers' Trainer runs an epoch; the last step's loss is the mean
// over its own counted tokens. A step used to run on into the next epoch's
// shuffle (12 micro-batches for one epoch, 2 of them from epoch 2).
func TestEpochEndsItsSteps(t *testing.T) {
	if got := StepsPerEpoch(10, 4); got != 3 {
		t.Fatalf("StepsPerEpoch(10, 4) = %d, want 3", got)
	}
	dir := t.TempDir()
	batches := randBatches(10, 2, 5, 6, 41)
	m := newBigram(6, 9, 0)
	cfg := Config{Steps: 2 * StepsPerEpoch(10, 4), GradAccum: 4, OutDir: dir, MetricsPath: filepath.Join(dir, "m.jsonl"),
		Schedule: optim.Schedule{Kind: optim.Constant, LR: 1e-2}}
	tr := newTrainer(t, m, nil, cfg)
	rec := &recorded{Data: shuffled{batches, 5}, tr: tr, seen: map[int][][2]int{}}
	tr.Train = rec
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	steps, _ := readMetrics(t, cfg.MetricsPath)
	tokens := 0
	for step := range cfg.Steps {
		epoch, first := step/3, step%3*4
		var want [][2]int
		for i := first; i < min(first+4, 10); i++ {
			want = append(want, [2]int{epoch, i})
		}
		if got := rec.seen[step]; !slices.Equal(got, want) {
			t.Errorf("step %d took %v, want %v", step+1, got, want)
		}
		for _, b := range want {
			bt, _ := rec.Data.Batch(b[0], b[1])
			tokens += bt.Count()
		}
		if steps[step]["tokens"] != float64(tokens) {
			t.Errorf("step %d: %v tokens trained on, want %d", step+1, steps[step]["tokens"], tokens)
		}
	}
	if m.calls != 20 {
		t.Errorf("%d forwards for 2 epochs of 10 batches", m.calls)
	}
}

// TestResumeAtLastStepKeepsValidation: resuming the checkpoint a run
// saved at its last step, after the final validation, trains and validates
// nothing: the metrics hold each validation once (a second val line at step
// 6 was appended), and the summary reports the checkpoint's last
// validation loss. From checkpoint-3 the validations of steps 4 and 6 run.
func TestResumeAtLastStepKeepsValidation(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runStepsEval(t, dir, 6, 3, "", 0, 2); err != nil {
		t.Fatal(err)
	}
	valSteps := func() []float64 {
		_, vals := readMetrics(t, filepath.Join(dir, "metrics.jsonl"))
		var out []float64
		for _, v := range vals {
			out = append(out, v["step"])
		}
		return out
	}
	want := []float64{2, 4, 6}
	if got := valSteps(); !slices.Equal(got, want) {
		t.Fatalf("validations at steps %v, want %v", got, want)
	}
	_, vals := readMetrics(t, filepath.Join(dir, "metrics.jsonl"))
	tr, m, err := runStepsEval(t, dir, 6, 3, filepath.Join(dir, "checkpoint-6"), 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := valSteps(); !slices.Equal(got, want) || m.calls != 0 {
		t.Errorf("resumed at step 6: validations at steps %v, %d forwards; want %v and none", got, m.calls, want)
	}
	if sum, err := tr.Run(context.Background()); err != nil || sum.ValLoss != vals[2]["val_loss"] {
		t.Errorf("summary validation loss %v (%v), want the checkpoint's %v", sum.ValLoss, err, vals[2]["val_loss"])
	}
	if _, _, err := runStepsEval(t, dir, 6, 3, filepath.Join(dir, "checkpoint-3"), 0, 2); err != nil {
		t.Fatal(err)
	}
	if got := valSteps(); !slices.Equal(got, want) {
		t.Errorf("resumed at step 3: validations at steps %v, want %v", got, want)
	}
}
