// Package testutil holds helpers shared by loft's tests.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedDir returns the path of ../shared (beside the repository root), or of
// $LOFT_SHARED when set, joined with elem. It skips the test with a clear
// message when the folder is absent, so tests pass on a fresh clone.
func SharedDir(t testing.TB, elem ...string) string {
	t.Helper()
	root := os.Getenv("LOFT_SHARED")
	if root == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			t.Skip("shared assets: cannot locate the repository root")
		}
		// file is <repo>/internal/testutil/shared.go.
		root = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared assets not available (%v): place them at ../shared beside the repository or set LOFT_SHARED", err)
	}
	return p
}
