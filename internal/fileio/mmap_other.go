//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fileio

import "os"

// Map reads the whole file at path into memory: this platform has no
// syscall.Mmap, so the "mapping" is a private copy with the same API.
func Map(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &Mapping{Data: data}, nil
}
