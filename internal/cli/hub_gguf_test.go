package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loftml/loft/internal/testutil"
)

// TestGenerateHubGGUF: `loft generate --model org/name-GGUF:F32` runs the
// GGUF file the tag selects from a GGUF-only repo and prints the same text
// as the local file.
func TestGenerateHubGGUF(t *testing.T) {
	name := "stories260K-f32.gguf"
	b, err := os.ReadFile(testutil.SharedDir(t, "models", "stories260K", "gguf", name))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	const id = "loft-test/stories260K-GGUF"
	srv, _ := serveHubRepo(t, src, id, strings.Repeat("f3", 20), "tok")
	hubEnv(t, srv.URL, "tok")
	args := []string{"generate", "--prompt", "Once upon a time", "--max-new-tokens", "20", "--temperature", "0"}
	code, local, errOut := run(t, append(args, "--model", filepath.Join(src, name))...)
	if code != ExitOK || local == "" {
		t.Fatalf("local file: code %d, stderr %q", code, errOut)
	}
	code, out, errOut := run(t, append(args, "--model", id+":F32")...)
	if code != ExitOK || out != local {
		t.Errorf("%s:F32: code %d, stdout %q (want %q), stderr %q", id, code, out, local, errOut)
	}
}
