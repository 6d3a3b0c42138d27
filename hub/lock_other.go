//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hub

import "context"

// lockFile does nothing where flock(2) is missing: concurrent downloads of
// one blob are then not serialised (a sha256 check still catches a mixed-up
// LFS file).
func lockFile(ctx context.Context, p string, onWait func()) (unlock func(), err error) {
	return func() {}, ctx.Err()
}
