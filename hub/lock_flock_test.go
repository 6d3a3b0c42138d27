//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWaitsForAnotherDownload holds a blob's lock the way another process
// (or Python's huggingface_hub) would, finishes the blob "in the other
// process", and checks that Resolve waited and then used it without
// downloading.
func TestWaitsForAnotherDownload(t *testing.T) {
	f, files := tinyHub(t)
	cache := t.TempDir()
	c := repoCache{dir: filepath.Join(cache, "models--acme--tiny-llm")}
	etag := files["model.safetensors"].etag()
	if want := filepath.Join(cache, ".locks", "models--acme--tiny-llm", etag+".lock"); c.lockPath(etag) != want {
		t.Fatalf("lock path %s, want %s", c.lockPath(etag), want)
	}
	unlock, err := lockFile(context.Background(), c.lockPath(etag), nil)
	if err != nil {
		t.Fatal(err)
	}
	var notes lockedBuffer
	opts := testOptions(f, cache)
	opts.Progress = &notes
	type result struct {
		dir string
		err error
	}
	done := make(chan result, 1)
	go func() {
		dir, err := Resolve(context.Background(), testRepo, opts)
		done <- result{dir, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(notes.String(), "waiting for another download of model.safetensors") {
		if time.Now().After(deadline) {
			t.Fatalf("Resolve did not wait for the lock; output %q", notes.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The other process completes the blob and lets go.
	if err := os.WriteFile(c.blobPath(etag), files["model.safetensors"].data, 0o644); err != nil {
		t.Fatal(err)
	}
	unlock()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, _, cdn := f.counts(); cdn != 0 {
		t.Errorf("%d CDN requests; the blob finished by the lock holder should be reused", cdn)
	}
	if target, _ := os.Readlink(filepath.Join(r.dir, "model.safetensors")); target != "../../blobs/"+etag {
		t.Errorf("model.safetensors -> %q", target)
	}

	// Cancelling while waiting for a lock returns promptly with ctx's error.
	unlock, err = lockFile(context.Background(), c.lockPath("feed"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, c.lockPath("feed"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting on a held lock: err = %v, want context.DeadlineExceeded", err)
	}
}

// TestLockFileMode: lock files are group-writable (0664 whatever the
// umask), as huggingface_hub's filelock makes them with fchmod, and their
// folder 0777 less the umask, as Python's mkdir, so that users who share a
// cache through a group can wait on each other's locks; 0644 files in 0755
// folders refused them.
func TestLockFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		umask           int
		file, directory os.FileMode
	}{{0o002, 0o664, 0o775}, {0o022, 0o664, 0o755}} {
		old := syscall.Umask(tc.umask)
		p := filepath.Join(dir, fmt.Sprintf("%03o", tc.umask), "x.lock")
		unlock, err := lockFile(context.Background(), p, nil)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != tc.file {
			t.Errorf("umask %03o: lock file %v, %v; want mode %v", tc.umask, fi.Mode(), err, tc.file)
		}
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || fi.Mode().Perm() != tc.directory {
			t.Errorf("umask %03o: lock folder %v, %v; want mode %v", tc.umask, fi.Mode(), err, tc.directory)
		}
	}
}
