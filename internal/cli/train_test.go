package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/train"
)

// runLoft runs loft with args and returns the exit code and stderr.
func runLoft(ctx context.Context, args ...string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := Run(ctx, args, &stdout, &stderr)
	return code, stderr.String()
}

func TestTrainUsageErrors(t *testing.T) {
	// Every bad value is a usage error naming its flag, found before the
	// model is loaded (the model path does not exist).
	base := []string{"train", "--model", "/nonexistent/model", "--data", "x.jsonl", "--out", "/nonexistent/out"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", "x", "--out", "o"}, "--model is required"},
		{[]string{"train", "--model", "m", "--out", "o"}, "--data is required"},
		{[]string{"train", "--model", "m", "--data", "x"}, "--out is required"},
		{[]string{"--lora-r", "-1"}, "--lora-r must be at least 1"},
		{[]string{"--lora-r", "0"}, "--lora-r must be at least 1"},
		{[]string{"--lora-alpha", "0"}, "--lora-alpha must be positive"},
		{[]string{"--lora-dropout", "1"}, "--lora-dropout must be in [0, 1)"},
		{[]string{"--steps", "10", "--epochs", "2"}, "--steps or --epochs, not both"},
		{[]string{"--steps", "0"}, "--steps must be at least 1"},
		{[]string{"--epochs", "-1"}, "--epochs must be at least 1"},
		{[]string{"--schedule", "step"}, `--schedule: unknown schedule "step"`},
		{[]string{"--lr", "0"}, "--lr must be positive"},
		{[]string{"--batch-size", "0"}, "--batch-size must be at least 1"},
		{[]string{"--grad-accum", "0"}, "--grad-accum must be at least 1"},
		{[]string{"--seq-len", "1"}, "--seq-len must be at least 2"},
		{[]string{"--warmup-steps", "-2"}, "--warmup-steps must not be negative"},
		{[]string{"--warmup-ratio", "1"}, "--warmup-ratio must be in [0, 1), got 1"},
		{[]string{"--warmup-steps", "2", "--warmup-ratio", "0.1"}, "give --warmup-steps or --warmup-ratio, not both"},
		{[]string{"--weight-decay", "-0.1"}, "--weight-decay must not be negative"},
		{[]string{"--max-grad-norm", "-1"}, "--max-grad-norm must not be negative"},
		{[]string{"--save-every", "-1"}, "--save-every must not be negative"},
		{[]string{"--eval-every", "-1"}, "--eval-every must not be negative"},
		{[]string{"--valid", "v.jsonl", "--valid-fraction", "0.1"}, "--valid or --valid-fraction, not both"},
		{[]string{"--valid-fraction", "1.5"}, "--valid-fraction must be between 0 and 1"},
		{[]string{"--eval-every", "10"}, "--eval-every needs a validation set"},
		{[]string{"--target", "q_proj", "--target-regex", ".*q_proj"}, "--target or --target-regex, not both"},
		{[]string{"--target-regex", "("}, "--target-regex"},
		{[]string{"--layers", "3-1"}, "--layers"},
		{[]string{"--layers", "a"}, "--layers"},
		{[]string{"--format", "csv"}, "--format"},
		{[]string{"--init-adapter", "a", "--lora-r", "4"}, "--lora-r conflicts with --init-adapter"},
		{[]string{"--init-adapter", "a", "--lora-dropout", "0.1"}, "--lora-dropout conflicts with --init-adapter"},
		{[]string{"--target-regex", `.*q_proj`, "--layers", "0"}, "cannot be combined with a layer selection"},
		{[]string{"--threads", "-1"}, "--threads must be positive"},
		{[]string{"--target", "q_proj,,v_proj"}, "one is empty"},
		{[]string{"--exclude", " "}, "one is empty"},
		{[]string{"--lora-init", "normal"}, `--lora-init must be kaiming or gaussian, got "normal"`},
		{[]string{"--init-adapter", "a", "--lora-init", "gaussian"}, "--lora-init conflicts with --init-adapter"},
		{[]string{"--lora-r", "x"}, "--lora-r"},
		{[]string{"--target", "all-linear,q_proj"}, "--target: all-linear selects every linear layer"},
		{[]string{"--overwrite", "--resume", "o"}, "give --resume or --overwrite, not both"},
	}
	for _, c := range cases {
		args := c.args
		if args[0] != "train" {
			args = append(append([]string(nil), base...), args...)
		}
		code, stderr := runLoft(context.Background(), args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, ExitUsage, c.want)
		}
	}
}

func TestParseLayers(t *testing.T) {
	got, err := parseLayers("0, 2,5-7")
	if err != nil || len(got) != 5 || got[0] != 0 || got[1] != 2 || got[2] != 5 || got[4] != 7 {
		t.Errorf("parseLayers = %v, %v", got, err)
	}
	if got, err := parseLayers(""); got != nil || err != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
}

// stepLosses reads the "loss" of each step line of a metrics file.
func stepLosses(t *testing.T, path string) []float64 {
	t.Helper()
	return stepValues(t, path, "loss")
}

// stepValues reads key of each step line (not a validation line) of a
// metrics file.
func stepValues(t *testing.T, path, key string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, ok := m["val_loss"]; !ok {
			out = append(out, m[key])
		}
	}
	return out
}

// storiesTrainArgs is a small run on the example dataset: 4 stories per
// step, shuffled with a fixed seed, dropout on (so the RNG state matters).
func storiesTrainArgs(t *testing.T, out string, extra ...string) []string {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	args := []string{"train", "--model", m, "--data", "../../examples/fox/stories_train.jsonl",
		"--out", out, "--metrics", filepath.Join(out, "metrics.jsonl"), "--batch-size", "4", "--seq-len", "64",
		"--lr", "2e-3", "--lora-dropout", "0.1", "--seed", "7", "--threads", "1"}
	return append(args, extra...)
}

func TestTrainResumeEqualsStraightRun(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	code, stderr := runLoft(context.Background(), storiesTrainArgs(t, straight, "--steps", "6", "--target", "q_proj, v_proj")...)
	if code != ExitOK {
		t.Fatalf("straight run: exit %d\n%s", code, stderr)
	}
	// What a run prints at start and at the end.
	for _, re := range []string{
		// q: A (8, 64) + B (64, 8); v: A (8, 64) + B (32, 8); 5 layers:
		// 5·(1024 + 768) = 8,960 of 260,032 + 8,960.
		`trainable params: 8,960 \|\| all params: 268,992 \|\| trainable%: 3.3310\n`,
		`lora: r 8, alpha 16, dropout 0.1, rslora false, targets q_proj,v_proj, init kaiming \(10 modules\)`,
		`optimizer: AdamW lr 0.002, betas 0.9/0.999, eps 1e-08, weight decay 0, max grad norm 1; schedule constant, warmup 0`,
		`run: 6 steps \([0-9.]+ epochs\) of 1 x 4 examples, shuffle true, seed 7`,
		`memory estimate: [0-9.]+ MiB \(weights`,
		`trained 6 steps, [0-9]+ counted tokens: [0-9]+ tokens/s, peak memory [0-9.]+ [MG]iB \(VmHWM\)`,
	} {
		if !regexp.MustCompile(re).MatchString(stderr) {
			t.Errorf("stderr lacks %s:\n%s", re, stderr)
		}
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "loss.png"} {
		if _, err := os.Stat(filepath.Join(straight, f)); err != nil {
			t.Error(err)
		}
	}

	code, stderr = runLoft(context.Background(), storiesTrainArgs(t, split, "--steps", "3", "--save-every", "3")...)
	if code != ExitOK {
		t.Fatalf("first half: exit %d\n%s", code, stderr)
	}
	ck := filepath.Join(split, "checkpoint-3")
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json", "config.json"} {
		if _, err := os.Stat(filepath.Join(ck, f)); err != nil {
			t.Error(err)
		}
	}
	var cfg map[string]any
	if b, err := os.ReadFile(filepath.Join(ck, "config.json")); err != nil || json.Unmarshal(b, &cfg) != nil || cfg["lora_r"] != 8.0 || cfg["batch_size"] != 4.0 {
		t.Errorf("config.json: %v %v", cfg, err)
	}
	code, stderr = runLoft(context.Background(), storiesTrainArgs(t, split, "--steps", "6", "--resume", split)...)
	if code != ExitOK {
		t.Fatalf("resumed run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "resumed from "+ck+" at step 3 of 6") {
		t.Errorf("stderr lacks the resume line:\n%s", stderr)
	}
	a := stepLosses(t, filepath.Join(straight, "metrics.jsonl"))
	b := stepLosses(t, filepath.Join(split, "metrics.jsonl"))
	if len(a) != 6 || len(b) != 6 {
		t.Fatalf("losses %v and %v, want 6 each", a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("step %d: straight loss %v, resumed %v", i+1, a[i], b[i])
		}
	}
	wa, _ := os.ReadFile(filepath.Join(straight, "adapter_model.safetensors"))
	wb, _ := os.ReadFile(filepath.Join(split, "adapter_model.safetensors"))
	if !bytes.Equal(wa, wb) {
		t.Error("the final adapters differ")
	}

	// The same data path with other contents is refused.
	edited := filepath.Join(t.TempDir(), "stories.jsonl")
	orig, err := os.ReadFile("../../examples/fox/stories_train.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(edited, orig, 0o644)
	ed := t.TempDir()
	args := storiesTrainArgs(t, ed, "--steps", "1", "--save-every", "1", "--data", edited)
	args = slices.Delete(args, 3, 5) // the --data the helper gives
	if code, stderr := runLoft(context.Background(), args...); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(edited, append(orig, `{"text": "One more story."}`+"\n"...), 0o644)
	args = storiesTrainArgs(t, ed, "--steps", "2", "--resume", ed, "--data", edited)
	args = slices.Delete(args, 3, 5)
	if code, stderr := runLoft(context.Background(), args...); code != ExitError || !strings.Contains(stderr, "train_examples: checkpoint 300, now 301") {
		t.Errorf("resume after the data changed: exit %d\n%s", code, stderr)
	}

	// A resume with another LoRA shape or data is refused, naming them.
	code, stderr = runLoft(context.Background(), storiesTrainArgs(t, split, "--steps", "6", "--resume", split, "--lora-r", "4", "--batch-size", "2")...)
	if code != ExitError || !strings.Contains(stderr, "lora_r: checkpoint 8, now 4") || !strings.Contains(stderr, "batch_size: checkpoint 4, now 2") {
		t.Errorf("resume with another r: exit %d\n%s", code, stderr)
	}

	// A checkpoint of an older loft, which counted other targets or laid
	// an epoch's steps out otherwise and did not record either, is
	// refused rather than resumed onto another trajectory.
	statePath := filepath.Join(ck, "trainer_state.json")
	var st map[string]any
	if b, err := os.ReadFile(statePath); err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("%s: %v", statePath, err)
	}
	id := st["identity"].(map[string]any)
	delete(id, "train_targets")
	delete(id, "steps_per_epoch")
	edit, _ := json.Marshal(st)
	os.WriteFile(statePath, edit, 0o644)
	code, stderr = runLoft(context.Background(), storiesTrainArgs(t, split, "--steps", "6", "--resume", ck)...)
	if code != ExitError || !strings.Contains(stderr, "steps_per_epoch: checkpoint (unset), now 75") || !strings.Contains(stderr, "train_targets: checkpoint (unset), now ") {
		t.Errorf("resume of an older checkpoint: exit %d\n%s", code, stderr)
	}
}

// TestTrainInitAdapter: --init-adapter starts from a trained adapter: its
// adapter_config.json sets r, alpha, dropout and targets, the first loss
// is the trained adapter's (below the base model's), and --seed still
// seeds the dropout masks.
func TestTrainInitAdapter(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	common := []string{"--model", m, "--data", "../../examples/fox/stories_train.jsonl", "--batch-size", "4",
		"--seq-len", "64", "--no-shuffle", "--threads", "1"}
	train := func(out string, extra ...string) []float64 {
		t.Helper()
		args := append(append([]string{"train", "--out", out, "--metrics", filepath.Join(out, "m.jsonl")}, common...), extra...)
		if code, stderr := runLoft(context.Background(), args...); code != ExitOK {
			t.Fatalf("%v: exit %d\n%s", extra, code, stderr)
		}
		return stepLosses(t, filepath.Join(out, "m.jsonl"))
	}
	first := filepath.Join(t.TempDir(), "first")
	base := train(first, "--steps", "4", "--lr", "5e-3", "--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0.1", "--target", "all-linear")
	dir := t.TempDir()
	a := train(filepath.Join(dir, "a"), "--init-adapter", first, "--steps", "1", "--seed", "1")
	b := train(filepath.Join(dir, "b"), "--init-adapter", first, "--steps", "1", "--seed", "1")
	c := train(filepath.Join(dir, "c"), "--init-adapter", first, "--steps", "1", "--seed", "2")
	// base[0] is the base model's loss on batch 0 (B = 0 at the start).
	t.Logf("batch 0: base model %.4f, after 4 steps %.4f", base[0], a[0])
	if !(a[0] < base[0]-0.05) {
		t.Errorf("first loss from the trained adapter %v, base model %v: the adapter was not loaded", a[0], base[0])
	}
	if a[0] != b[0] || a[0] == c[0] {
		t.Errorf("losses %v (seed 1), %v (seed 1 again), %v (seed 2): --seed must decide the dropout masks", a[0], b[0], c[0])
	}
	var cfg map[string]any
	buf, err := os.ReadFile(filepath.Join(dir, "a", "adapter_config.json"))
	if err != nil || json.Unmarshal(buf, &cfg) != nil {
		t.Fatalf("adapter_config.json: %v", err)
	}
	targets, _ := json.Marshal(cfg["target_modules"])
	if cfg["r"] != 4.0 || cfg["lora_alpha"] != 8.0 || cfg["lora_dropout"] != 0.1 ||
		string(targets) != `["down_proj","gate_proj","k_proj","o_proj","q_proj","up_proj","v_proj"]` {
		t.Errorf("adapter_config.json after --init-adapter: %s", buf)
	}
}

// tinyGPT2 returns a model folder: testdata's gpt2-tiny (vocabulary 128)
// with a byte-level BPE tokenizer of single characters (printable ASCII
// and "Ġ", the byte-level space; no merges) and <|endoftext|> as 127.
func tinyGPT2(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/ref/gpt2-tiny", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vocab := map[string]int{"\u0120": 94, "<|endoftext|>": 127}
	for c := byte(33); c < 127; c++ {
		vocab[string(rune(c))] = int(c) - 33
	}
	vb, _ := json.Marshal(vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTrainGPT2Defaults: with no --target, GPT-2 adapts c_attn (Conv1D),
// and the adapter is what PEFT writes for GPT2LMHeadModel: fan_in_fan_out,
// keys under base_model.model.transformer, lora_A (r, in), lora_B (out, r);
// --lora-init gaussian is recorded as init_lora_weights "gaussian".
func TestTrainGPT2Defaults(t *testing.T) {
	m := tinyGPT2(t)
	data := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(data, []byte(strings.Repeat(`{"text": "hello world this is a test"}`+"\n", 4)), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	code, stderr := runLoft(context.Background(), "train", "--model", m, "--data", data, "--out", out, "--steps", "2", "--seq-len", "32", "--lr", "1e-2", "--lora-init", "gaussian")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// c_attn: A (8, 48) + B (144, 8) = 1,536 a layer, 2 layers; base 64,320.
	for _, want := range []string{"targets c_attn, init gaussian (2 modules)", "trainable params: 3,072 || all params: 67,392 || trainable%: 4.5584\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var cfg map[string]any
	buf, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil || json.Unmarshal(buf, &cfg) != nil {
		t.Fatalf("adapter_config.json: %v", err)
	}
	if cfg["fan_in_fan_out"] != true || cfg["r"] != 8.0 || cfg["lora_alpha"] != 16.0 || cfg["lora_dropout"] != 0.0 ||
		!slices.Equal(cfg["target_modules"].([]any), []any{"c_attn"}) || cfg["task_type"] != "CAUSAL_LM" || cfg["peft_type"] != "LORA" || cfg["init_lora_weights"] != "gaussian" {
		t.Errorf("adapter_config.json: %s", buf)
	}
	f, err := safetensors.Open(filepath.Join(out, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		got = append(got, fmt.Sprint(n, info.Shape))
	}
	want := []string{
		"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight[8 48]", "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight[144 8]",
		"base_model.model.transformer.h.1.attn.c_attn.lora_A.weight[8 48]", "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight[144 8]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("tensors %v, want %v", got, want)
	}
}

// TestTrainEpochsWithGradAccum: 10 batches with --grad-accum 4 make an
// epoch of 3 steps, the last of 2 micro-batches, and the run trains on each
// example once: the tokens of the metrics are the data's counted tokens. It
// was 3 steps of 4, 12 micro-batches, 2 of them from the next epoch.
func TestTrainEpochsWithGradAccum(t *testing.T) {
	m := tinyGPT2(t)
	var lines strings.Builder
	for i := range 10 {
		fmt.Fprintf(&lines, "{\"text\": \"story %d %s\"}\n", i, strings.Repeat("x", i))
	}
	data := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(data, []byte(lines.String()), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	metrics := filepath.Join(out, "m.jsonl")
	code, stderr := runLoft(context.Background(), "train", "--model", m, "--data", data, "--out", out, "--epochs", "1",
		"--batch-size", "1", "--grad-accum", "4", "--seq-len", "32", "--metrics", metrics, "--threads", "1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "run: 3 steps (1.00 epochs) of 4 x 1 examples") {
		t.Errorf("stderr lacks the run line of 3 steps:\n%s", stderr)
	}
	counted := regexp.MustCompile(`, ([0-9]+) counted\), 10 batches per epoch`).FindStringSubmatch(stderr)
	if counted == nil {
		t.Fatalf("stderr lacks the data line:\n%s", stderr)
	}
	buf, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	var last struct{ Step, Tokens int }
	for _, l := range strings.Split(strings.TrimSpace(string(buf)), "\n") {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatal(err)
		}
	}
	if last.Step != 3 || fmt.Sprint(last.Tokens) != counted[1] {
		t.Errorf("last step %d trained on %d tokens in all, want step 3 and the data's %s", last.Step, last.Tokens, counted[1])
	}
}

// TestTrainAdapterBase: adapter_config.json names the base model as PEFT
// and transformers load it: a Hub reference by its plain repo id (the raw
// "org/name@rev" was written), a local folder as given.
func TestTrainAdapterBase(t *testing.T) {
	local := t.TempDir()
	for _, tc := range []struct{ ref, want, rev string }{
		{"org/name", "org/name", ""},
		{"org/name@v1.0", "org/name", "v1.0"},
		{"org/name-GGUF:Q4_K_M", "org/name-GGUF", ""},
		{"org/name@refs/pr/1:Q8_0", "org/name", "refs/pr/1"},
		{"org/name/sub/model-q8.gguf", "org/name", ""},
		{local, local, ""},
		{"not a repo id", "not a repo id", ""},
	} {
		if got, rev := adapterBase(tc.ref); got != tc.want || rev != tc.rev {
			t.Errorf("adapterBase(%q) = %q, %q; want %q, %q", tc.ref, got, rev, tc.want, tc.rev)
		}
	}

	cache, _ := hubCache(t, tinyGPT2(t), "loft-test/gpt2")
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	data := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(data, []byte(`{"text": "hello world"}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	code, stderr := runLoft(context.Background(), "train", "--model", "loft-test/gpt2@"+strings.Repeat("ab", 20), "--data", data,
		"--out", out, "--steps", "1", "--seq-len", "16", "--threads", "1")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var cfg map[string]any
	buf, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil || json.Unmarshal(buf, &cfg) != nil {
		t.Fatalf("adapter_config.json: %v", err)
	}
	if cfg["base_model_name_or_path"] != "loft-test/gpt2" || cfg["revision"] != strings.Repeat("ab", 20) {
		t.Errorf("base_model_name_or_path %v, revision %v; want loft-test/gpt2 and the commit", cfg["base_model_name_or_path"], cfg["revision"])
	}
}

// TestTrainWarnsTruncation: examples cut to --seq-len are reported for
// --valid as for --data (the validation set's were cut silently).
func TestTrainWarnsTruncation(t *testing.T) {
	m := tinyGPT2(t)
	dir := t.TempDir()
	short, long := filepath.Join(dir, "short.jsonl"), filepath.Join(dir, "long.jsonl")
	os.WriteFile(short, []byte(`{"text": "hello world"}`+"\n"), 0o644)
	os.WriteFile(long, []byte(`{"text": "hello world"}`+"\n"+`{"text": "`+strings.Repeat("hello world ", 4)+`"}`+"\n"), 0o644)
	for _, tc := range []struct{ data, valid, want, not string }{
		{short, long, "loft: warning: 1 examples of --valid truncated to --seq-len 16, 0 dropped", "of --data"},
		{long, short, "loft: warning: 1 examples of --data truncated to --seq-len 16, 0 dropped", "of --valid"},
	} {
		code, stderr := runLoft(context.Background(), "train", "--model", m, "--data", tc.data, "--valid", tc.valid,
			"--out", filepath.Join(t.TempDir(), "out"), "--steps", "1", "--seq-len", "16", "--threads", "1")
		if code != ExitOK || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, tc.not) {
			t.Errorf("--data %s --valid %s: exit %d, want %q and no %q in\n%s", filepath.Base(tc.data), filepath.Base(tc.valid), code, tc.want, tc.not, stderr)
		}
	}
}

func TestTrainInterruptSavesCheckpoint(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as cmd/loft does on SIGINT: here before the first step
	code, stderr := runLoft(ctx, storiesTrainArgs(t, out, "--steps", "2")...)
	ck := filepath.Join(out, "checkpoint-0")
	if code != ExitInterrupted || !strings.Contains(stderr, "training interrupted at step 0") || !strings.Contains(stderr, "--resume "+ck) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(ck, "trainer_state.json")); err != nil {
		t.Fatal(err)
	}
	code, stderr = runLoft(context.Background(), storiesTrainArgs(t, out, "--steps", "2", "--resume", ck)...)
	if code != ExitOK || len(stepLosses(t, filepath.Join(out, "metrics.jsonl"))) != 2 {
		t.Fatalf("resume after the interruption: exit %d\n%s", code, stderr)
	}
}

func TestTrainModelErrors(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	data := "../../examples/fox/stories_train.jsonl"
	out, files := t.TempDir(), t.TempDir()
	// --seq-len above stories260K's 512-token context names the flag.
	code, stderr := runLoft(context.Background(), "train", "--model", m, "--data", data, "--out", out, "--seq-len", "1024")
	if code != ExitUsage || !strings.Contains(stderr, "--seq-len 1024 exceeds the model's context length 512") {
		t.Errorf("seq-len: exit %d\n%s", code, stderr)
	}
	// Targets, layers and exclusions that select nothing are usage errors
	// naming the flag, with lora's detail (the model's modules, the
	// nearest name); they exited 1 with lora's message alone.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", "c_attn"}, `train: --target: target "c_attn" matches no module; did you mean "q_proj"? The model's linear modules: q_proj, k_proj`},
		{[]string{"--target", "foo_proj"}, `train: --target: target "foo_proj" matches no module`},
		{[]string{"--layers", "7"}, "train: --layers: layer 7 does not exist: the model's layers are 0-4"},
		{[]string{"--layers", "2-7"}, "train: --layers: layer 5 does not exist"},
		{[]string{"--exclude", "q_proj,v_proj"}, `train: --exclude: the targets match no module once --exclude ["q_proj" "v_proj"] is applied`},
		{[]string{"--target-regex", `q_proj`}, `train: --target-regex: target regular expression "q_proj" matches no module name (it must match the whole name); did you mean ".*q_proj"?`},
		{[]string{"--target-regex", `.*`}, "train: --target-regex: target matches the output head lm_head"},
	} {
		args := append([]string{"train", "--model", m, "--data", data, "--out", out}, tc.args...)
		code, stderr = runLoft(context.Background(), args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q in\n%s", tc.args, code, ExitUsage, tc.want, stderr)
		}
	}
	// A malformed data line is named.
	bad := filepath.Join(files, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"text\": 3\n"), 0o644)
	code, stderr = runLoft(context.Background(), "train", "--model", m, "--data", bad, "--out", out)
	if code != ExitError || !strings.Contains(stderr, bad+":2") {
		t.Errorf("bad data: exit %d\n%s", code, stderr)
	}
	// Prompts longer than --seq-len leave nothing to learn: said so, not
	// "no examples to batch".
	long := filepath.Join(files, "long.jsonl")
	os.WriteFile(long, []byte(`{"prompt": "`+strings.Repeat("word ", 100)+`", "completion": " yes"}`+"\n"), 0o644)
	code, stderr = runLoft(context.Background(), "train", "--model", m, "--data", long, "--out", out, "--seq-len", "32")
	if code != ExitError || !strings.Contains(stderr, long+": no training example left: all 1 were dropped") {
		t.Errorf("all dropped: exit %d\n%s", code, stderr)
	}
	// An --out that cannot be a folder is an error before training, not
	// after it.
	metrics := filepath.Join(files, "m.jsonl")
	code, stderr = runLoft(context.Background(), "train", "--model", m, "--data", data, "--out", bad, "--steps", "1", "--metrics", metrics)
	if _, err := os.Stat(metrics); code != ExitError || !strings.Contains(stderr, "--out "+bad) || !os.IsNotExist(err) {
		t.Errorf("--out a file: exit %d, metrics %v\n%s", code, err, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); !os.IsNotExist(err) {
		t.Errorf("a failed run wrote an adapter (%v)", err)
	}
}

func TestTrainRefusesWhatCannotFit(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	// A .txt file of about 630 blocks of 512 tokens, all in one micro-batch:
	// about 68 MiB of activations per row.
	stories, err := os.ReadFile("../../examples/fox/stories_train.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(txt, bytes.Repeat(stories, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(m, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	est := train.EstimateMemory(b.Info, 500, 512, 10240, false) // below the run's (about 630 rows)
	if avail, ok := train.MemAvailable(); !ok || avail > est.Total() {
		t.Skipf("even %s fits in this machine's available memory", train.MiB(est.Total()))
	}
	out := t.TempDir()
	code, stderr := runLoft(context.Background(), "train", "--model", m, "--data", txt,
		"--out", out, "--seq-len", "512", "--batch-size", "1000")
	if code != ExitError || !regexp.MustCompile(`the run needs about [0-9.]+ GiB but only [0-9.]+ GiB is available`).MatchString(stderr) {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); !os.IsNotExist(err) {
		t.Errorf("training started (%v)", err)
	}
}

// TestTrainWarmupRatio: --warmup-ratio is a fraction of the run's steps,
// rounded up as transformers' get_warmup_steps does: 0.25 of 6 steps is 2.
func TestTrainWarmupRatio(t *testing.T) {
	out := t.TempDir()
	code, stderr := runLoft(context.Background(), storiesTrainArgs(t, out, "--steps", "6", "--warmup-ratio", "0.25", "--schedule", "linear")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "schedule linear, warmup 2\n") {
		t.Errorf("stderr does not give warmup 2:\n%s", stderr)
	}
	// The first step runs at lr 0 (warmup from 0), the second at half the
	// peak, as the schedule's formula gives.
	lrs := stepValues(t, filepath.Join(out, "metrics.jsonl"), "lr")
	if len(lrs) != 6 || lrs[0] != 0 || lrs[1] != 1e-3 || lrs[2] != 2e-3 {
		t.Errorf("learning rates %v, want 0, 0.001, 0.002, then decaying", lrs)
	}
}

// TestTrainChatTemplate: chat data on a model without a chat template is
// refused with the way on; --chat-template chatml gives it ChatML (as
// TRL's setup_chat_format) and a resume continues with it; an unknown
// name is a usage error.
func TestTrainChatTemplate(t *testing.T) {
	m := testutil.SharedDir(t, "models", "stories260K", "hf")
	data := filepath.Join(t.TempDir(), "chat.jsonl")
	line := `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, little fox."}]}` + "\n"
	if err := os.WriteFile(data, []byte(strings.Repeat(line, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := []string{"train", "--model", m, "--data", data, "--out", out, "--steps", "2", "--seq-len", "64", "--batch-size", "1", "--threads", "1", "--save-every", "1"}
	code, stderr := runLoft(context.Background(), args...)
	if code != ExitError || !strings.Contains(stderr, "chat data needs a chat template, and the model has none (loft train --chat-template chatml gives it ChatML)") {
		t.Fatalf("no template: exit %d\n%s", code, stderr)
	}
	code, stderr = runLoft(context.Background(), append(args, "--chat-template", "chatml", "--overwrite")...)
	if code != ExitOK || !strings.Contains(stderr, "chat template chatml") || !strings.Contains(stderr, "3 training examples (") {
		t.Fatalf("chatml: exit %d\n%s", code, stderr)
	}
	resume := append(slices.Clone(args), "--chat-template", "chatml", "--resume", out)
	resume[slices.Index(resume, "--steps")+1] = "3"
	if code, stderr = runLoft(context.Background(), resume...); code != ExitOK || !strings.Contains(stderr, "resumed from "+filepath.Join(out, "checkpoint-2")) {
		t.Errorf("resume with the template: exit %d\n%s", code, stderr)
	}
	args[slices.Index(args, "--out")+1] = t.TempDir()
	if code, stderr = runLoft(context.Background(), append(args, "--chat-template", "nope")...); code != ExitUsage || !strings.Contains(stderr, `train: chat: --chat-template nope: the model has no chat template named "nope"`) {
		t.Errorf("unknown template: exit %d\n%s", code, stderr)
	}
}
