//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock(2) on the file at p, creating it, and
// polls every 100 ms while another process holds it (calling onWait once).
// Python's huggingface_hub locks the same files through the filelock
// package, which also uses flock on Unix, so loft and Python never write
// the same blob at once. The file is made group-writable (0664, whatever
// the umask: filelock, which huggingface_hub asks for mode 0o664, fchmods
// the file it opens, ignoring a refusal when another user owns it), so that
// users who share a cache can wait on each other's locks: opening it needs
// write access. Its folder, like every folder loft makes in the cache, is
// 0777 less the umask, as Python's mkdir makes them, so that they can
// create lock files too.
func lockFile(ctx context.Context, p string, onWait func()) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return nil, fmt.Errorf("hub: lock %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o664)
	if err != nil {
		return nil, fmt.Errorf("hub: lock %s: %w", p, err)
	}
	_ = f.Chmod(0o664) // fails, harmlessly, on another user's lock file
	fd := int(f.Fd())
	for waited := false; ; waited = true {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(fd, syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("hub: lock %s: %w", p, err)
		}
		if !waited && onWait != nil {
			onWait()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("hub: waiting for lock %s: %w", p, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
