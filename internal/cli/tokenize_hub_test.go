package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// hubEnv points the Hub client at srv with a fresh cache and returns it.
func hubEnv(t *testing.T, url, token string) string {
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", url)
	t.Setenv("HF_HUB_OFFLINE", "0")
	t.Setenv("HF_TOKEN", token)
	return cache
}

// TestTokenizeHub: `loft tokenize --model org/name` downloads the tokenizer
// files only (no model.safetensors), prints the same ids as the local
// folder, and runs offline from the cache afterwards.
func TestTokenizeHub(t *testing.T) {
	src := writeTinyModel(t, false)
	const id, token = "loft-test/tiny", "hf_secret"
	commit := strings.Repeat("d1", 20)
	srv, fileCalls := serveHubRepo(t, src, id, commit, token)
	cache := hubEnv(t, srv.URL, token)
	args := []string{"tokenize", "--text", "Hello world <|im_end|>"}
	code, local, errOut := run(t, append(args, "--model", src)...)
	if code != ExitOK || local == "" {
		t.Fatalf("local folder: code %d, stderr %q", code, errOut)
	}
	code, out, errOut := run(t, append(args, "--model", id)...)
	if code != ExitOK || out != local {
		t.Fatalf("through the Hub: code %d, stdout %q (want %q), stderr %q", code, out, local, errOut)
	}
	snap := filepath.Join(cache, "models--loft-test--tiny", "snapshots", commit)
	got := dirNames(t, snap)
	if slices.Contains(got, "model.safetensors") || !slices.Contains(got, "tokenizer.json") {
		t.Errorf("snapshot holds %q: want the tokenizer files and no weights", got)
	}
	calls := fileCalls()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if code, out, errOut := run(t, append(args, "--model", id)...); code != ExitOK || out != local {
		t.Errorf("offline: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if n := fileCalls(); n != calls {
		t.Errorf("the offline run made %d file requests", n-calls)
	}
}

// TestTokenizeHubGGUF: a GGUF-only repo, `--model org/name-GGUF:q8_0`
// downloads that one .gguf file and tokenizes with it as the local file
// does; without a tag and without a Q4_K_M file the error lists the files.
func TestTokenizeHubGGUF(t *testing.T) {
	shared := testutil.SharedDir(t, "models", "stories260K", "gguf")
	src := t.TempDir()
	for _, name := range []string{"stories260K-f32.gguf", "stories260K-q8_0.gguf"} {
		b, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const id, token = "loft-test/stories260K-GGUF", "hf_secret"
	commit := strings.Repeat("e2", 20)
	srv, _ := serveHubRepo(t, src, id, commit, token)
	cache := hubEnv(t, srv.URL, token)
	args := []string{"tokenize", "--text", "Once upon a time, a cat.", "--add-special"}
	_, local, _ := run(t, append(args, "--model", filepath.Join(src, "stories260K-q8_0.gguf"))...)
	code, out, errOut := run(t, append(args, "--model", id+":q8_0")...)
	if code != ExitOK || out != local || local == "" {
		t.Fatalf("%s:q8_0: code %d, stdout %q (want %q), stderr %q", id, code, out, local, errOut)
	}
	snap := filepath.Join(cache, "models--loft-test--stories260K-GGUF", "snapshots", commit)
	if got := dirNames(t, snap); !slices.Equal(got, []string{"stories260K-q8_0.gguf"}) {
		t.Errorf("snapshot holds %q, want the q8_0 file alone", got)
	}
	code, _, errOut = run(t, append(args, "--model", id)...)
	if code != ExitError || !strings.Contains(errOut, "stories260K-f32.gguf, stories260K-q8_0.gguf") {
		t.Errorf("no tag: code %d, stderr %q; want an error listing both files", code, errOut)
	}
}
