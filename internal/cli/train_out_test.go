package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
	"github.com/loftml/loft/train"
)

// tinyTrainArgs is a quick run of tinyGPT2 (m) on 4 short lines into out.
func tinyTrainArgs(t *testing.T, m, out string, extra ...string) []string {
	t.Helper()
	data := filepath.Join(filepath.Dir(m), "tiny-train.jsonl") // beside the model: one file for every run of a test
	if err := os.WriteFile(data, []byte(strings.Repeat(`{"text": "hello world this is a test"}`+"\n", 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--model", m, "--data", data, "--out", out, "--seq-len", "32", "--batch-size", "2", "--threads", "1"}
	return append(args, extra...)
}

// dirNames lists dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// adapterR reads r from dir's adapter_config.json.
func adapterR(t *testing.T, dir string) float64 {
	t.Helper()
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("adapter_config.json: %v", err)
	}
	r, _ := cfg["r"].(float64)
	return r
}

// TestTrainOutModelFolder: an --out that is a model folder (the --model
// folder itself, another model's, a folder holding a GGUF or a pickle) is
// a usage error written before the model is loaded, and nothing is
// written into it, even with --overwrite: PEFT would load such a folder
// as an adapter.
func TestTrainOutModelFolder(t *testing.T) {
	shared := testutil.SharedDir(t, "models", "stories260K", "hf")
	m := copyDir(t, shared)
	other := copyDir(t, shared)
	gguf, bin, pth := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(gguf, "model-q8_0.gguf"), []byte("GGUF"), 0o644)
	os.WriteFile(filepath.Join(bin, "pytorch_model.bin"), []byte("pickle"), 0o644)
	os.WriteFile(filepath.Join(pth, "consolidated.00.pth"), []byte("pickle"), 0o644)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(m, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		out, want string
		extra     []string
	}{
		{m, "train: --out " + m + " is the --model folder", nil},
		{m + "/", "is the --model folder", nil},
		{link, "train: --out " + link + " is the --model folder", nil},
		{m, "is the --model folder", []string{"--overwrite"}},
		{other, "train: --out " + other + " holds a model (config.json, model.safetensors)", nil},
		{other, "holds a model", []string{"--overwrite"}},
		{shared, "holds a model", nil},
		{gguf, "holds a model (model-q8_0.gguf)", nil},
		{bin, "holds a model (pytorch_model.bin)", nil},
		{pth, "holds a model (consolidated.00.pth)", nil},
	} {
		before := dirNames(t, tc.out)
		args := append([]string{"train", "--model", m, "--data", "../../examples/fox/stories_train.jsonl", "--out", tc.out, "--steps", "1"}, tc.extra...)
		code, stderr := runLoft(context.Background(), args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "PEFT would then load the folder as an adapter") {
			t.Errorf("--out %s %v: exit %d, want %d and %q in\n%s", tc.out, tc.extra, code, ExitUsage, tc.want, stderr)
		}
		if strings.Contains(stderr, "model:") {
			t.Errorf("--out %s: the model was loaded before the refusal:\n%s", tc.out, stderr)
		}
		if after := dirNames(t, tc.out); !slices.Equal(before, after) {
			t.Errorf("--out %s: the refused run changed the folder: %v, then %v", tc.out, before, after)
		}
	}
}

// TestTrainOutEarlierRun: an --out holding an earlier run's checkpoints
// is refused unless --resume (which continues as before) or --overwrite
// (which deletes them first, and only them); a finished run's adapter,
// loss.png and metrics file are replaced with a line on stderr, so the
// same command runs twice; files loft did not write need --overwrite and
// are kept.
func TestTrainOutEarlierRun(t *testing.T) {
	m := tinyGPT2(t)
	out := filepath.Join(t.TempDir(), "out")
	metrics := filepath.Join(out, "logs", "m.jsonl")
	train := func(wantCode int, extra ...string) string {
		t.Helper()
		code, stderr := runLoft(context.Background(), tinyTrainArgs(t, m, out, extra...)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s", extra, code, wantCode, stderr)
		}
		return stderr
	}

	stderr := train(ExitOK, "--steps", "2", "--save-every", "1", "--metrics", metrics)
	if strings.Contains(stderr, "replacing") {
		t.Errorf("a new --out: stderr says an adapter is replaced:\n%s", stderr)
	}
	adapter, _ := os.ReadFile(filepath.Join(out, "adapter_model.safetensors"))

	// A new run beside the checkpoints is refused, naming the ways on.
	stderr = train(ExitUsage, "--steps", "2", "--lora-r", "4", "--metrics", metrics)
	for _, want := range []string{"train: --out " + out + " holds the checkpoints of an earlier run (checkpoint-1, checkpoint-2)",
		"--resume " + out + " to continue that run", "--overwrite to start over"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, stderr)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "adapter_model.safetensors")); !bytes.Equal(b, adapter) {
		t.Error("the refused run replaced the adapter")
	}

	// --resume continues the run in its folder as before.
	stderr = train(ExitOK, "--steps", "3", "--save-every", "1", "--metrics", metrics, "--resume", out)
	if !strings.Contains(stderr, "resumed from "+filepath.Join(out, "checkpoint-2")+" at step 2 of 3") || strings.Contains(stderr, "replacing") {
		t.Errorf("resume:\n%s", stderr)
	}

	// --overwrite deletes checkpoint-<digits> folders only, and says so.
	os.Mkdir(filepath.Join(out, "checkpoint-best"), 0o755)
	os.WriteFile(filepath.Join(out, "checkpoint-9"), []byte("a file"), 0o644)
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	stderr = train(ExitUsage, "--steps", "1", "--lora-r", "4", "--metrics", metrics)
	if !strings.Contains(stderr, "holds the checkpoints of an earlier run (checkpoint-1, checkpoint-2, checkpoint-3)") {
		t.Errorf("refusal:\n%s", stderr)
	}
	stderr = train(ExitOK, "--steps", "1", "--lora-r", "4", "--metrics", metrics, "--overwrite")
	for _, want := range []string{"loft: --overwrite: deleting the earlier run's checkpoint-1, checkpoint-2, checkpoint-3 in " + out + "\n",
		"loft: replacing the adapter in " + out + "\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--overwrite: stderr lacks %q:\n%s", want, stderr)
		}
	}
	want := []string{"adapter_config.json", "adapter_model.safetensors", "checkpoint-9", "checkpoint-best", "logs", "loss.png", "notes.txt"}
	if got := dirNames(t, out); !slices.Equal(got, want) {
		t.Errorf("after --overwrite: %v, want %v", got, want)
	}
	if r := adapterR(t, out); r != 4 {
		t.Errorf("adapter r %v after --overwrite, want 4", r)
	}

	// Files loft did not write need --overwrite.
	stderr = train(ExitUsage, "--steps", "1", "--metrics", metrics)
	if !strings.Contains(stderr, "train: --out "+out+" holds files loft did not write (checkpoint-9, checkpoint-best, notes.txt)") ||
		!strings.Contains(stderr, "--overwrite to write the adapter among them") {
		t.Errorf("user files:\n%s", stderr)
	}
	for _, n := range []string{"checkpoint-9", "checkpoint-best", "notes.txt"} {
		os.RemoveAll(filepath.Join(out, n))
	}

	// A finished run's outputs alone: the same command runs again, and
	// says the adapter is replaced.
	for range 2 {
		stderr = train(ExitOK, "--steps", "1", "--metrics", metrics)
		if !strings.Contains(stderr, "loft: replacing the adapter in "+out+"\n") {
			t.Errorf("second run: stderr lacks the replacing line:\n%s", stderr)
		}
	}
	if r := adapterR(t, out); r != 8 {
		t.Errorf("adapter r %v, want 8", r)
	}
	// The metrics file as --metrics names it is loft's, also through a
	// link to --out; another is not.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	train(ExitOK, "--steps", "1", "--metrics", filepath.Join(link, "logs", "m.jsonl"))
	stderr = train(ExitUsage, "--steps", "1")
	if !strings.Contains(stderr, "holds files loft did not write (logs)") {
		t.Errorf("without --metrics:\n%s", stderr)
	}
	os.RemoveAll(filepath.Join(out, "logs"))

	// Hidden files (the desktop's .DS_Store) and a Trainer's
	// training_args.bin are not a model; the latter is a file loft did
	// not write.
	os.WriteFile(filepath.Join(out, ".DS_Store"), []byte("finder"), 0o644)
	train(ExitOK, "--steps", "1")
	os.WriteFile(filepath.Join(out, "training_args.bin"), []byte("pickle"), 0o644)
	if stderr = train(ExitUsage, "--steps", "1"); !strings.Contains(stderr, "holds files loft did not write (training_args.bin)") {
		t.Errorf("training_args.bin:\n%s", stderr)
	}
	os.Remove(filepath.Join(out, "training_args.bin"))

	// --resume of another run's folder does not let this one mix its
	// checkpoints with those in --out.
	other := filepath.Join(t.TempDir(), "other")
	train(ExitOK, "--steps", "1", "--save-every", "1")
	code, stderr := runLoft(context.Background(), tinyTrainArgs(t, m, other, "--steps", "1", "--save-every", "1")...)
	if code != ExitOK {
		t.Fatalf("other run: exit %d\n%s", code, stderr)
	}
	if stderr = train(ExitUsage, "--steps", "2", "--resume", other); !strings.Contains(stderr, "holds the checkpoints of an earlier run (checkpoint-1)") {
		t.Errorf("--resume of another folder:\n%s", stderr)
	}
	// --overwrite would delete the adapter --init-adapter starts from.
	ck := filepath.Join(out, "checkpoint-1")
	if stderr = train(ExitUsage, "--steps", "1", "--overwrite", "--init-adapter", ck); !strings.Contains(stderr, "--init-adapter "+ck+" lies in "+ck+", which --overwrite would delete") {
		t.Errorf("--init-adapter in a checkpoint:\n%s", stderr)
	}
	if _, err := os.Stat(ck); err != nil {
		t.Errorf("the refused run deleted %s: %v", ck, err)
	}
}

// TestTrainRefusedLeavesNoOut: a run refused after --out was made (a
// --resume with nothing to resume, a --metrics path that cannot be
// written) removes the folder it made, and leaves one that existed.
func TestTrainRefusedLeavesNoOut(t *testing.T) {
	m := tinyGPT2(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"--resume", filepath.Join(dir, "nothing")}, "resume:"},
		{[]string{"--metrics", filepath.Join(file, "m.jsonl")}, "metrics:"},
	} {
		out := filepath.Join(dir, "out")
		code, stderr := runLoft(context.Background(), tinyTrainArgs(t, m, out, append([]string{"--steps", "1"}, tc.extra...)...)...)
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d\n%s", tc.extra, code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%v: the refused run left --out behind (%v)", tc.extra, err)
		}
		// An --out that existed stays.
		os.Mkdir(out, 0o755)
		if code, _ := runLoft(context.Background(), tinyTrainArgs(t, m, out, append([]string{"--steps", "1"}, tc.extra...)...)...); code != ExitError {
			t.Errorf("%v: exit %d", tc.extra, code)
		}
		if _, err := os.Stat(out); err != nil {
			t.Errorf("%v: the refused run removed an --out that existed: %v", tc.extra, err)
		}
		os.Remove(out)
	}
}

func TestMetricsEntry(t *testing.T) {
	for _, tc := range []struct{ dir, metrics, want string }{
		{"/o", "", ""},
		{"/o", "/o/m.jsonl", "m.jsonl"},
		{"/o/", "/o/logs/a/m.jsonl", "logs"},
		{"/o", "/other/m.jsonl", ""},
		{"/o", "/o", ""},
		{"/o", "/..o/m.jsonl", ""},
		{"/o", "/o/..m.jsonl", "..m.jsonl"},
	} {
		if got := metricsEntry(tc.dir, tc.metrics); got != tc.want {
			t.Errorf("metricsEntry(%q, %q) = %q, want %q", tc.dir, tc.metrics, got, tc.want)
		}
	}
	for name, want := range map[string]int{"checkpoint-0": 0, "checkpoint-12": 12, "checkpoint-": -1, "checkpoint-+1": -1, "checkpoint-1a": -1, "checkpoint-best": -1, "x-1": -1} {
		if got := train.CheckpointStep(name); got != want {
			t.Errorf("CheckpointStep(%q) = %d, want %d", name, got, want)
		}
	}
}
