package fileio

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomic creates path by calling write on a buffered temporary file in
// the same folder, syncing it and renaming it over path, so readers never see
// a half-written file. On any error the temporary file is removed and path is
// left as it was.
func WriteAtomic(path string, write func(w *bufio.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// CreateTemp makes the file 0600; model files are ordinary data.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	return nil
}

// WriteFile writes data to path atomically, as WriteAtomic does (mode 0644).
func WriteFile(path string, data []byte) error {
	return WriteAtomic(path, func(w *bufio.Writer) error {
		_, err := w.Write(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// WriteDir creates the folder final atomically: fill writes the contents
// into a temporary folder beside final (mode 0755), which is then renamed to
// final, replacing an older final folder. On any error the temporary folder
// is removed and final is left as it was.
func WriteDir(final string, fill func(dir string) error) error {
	final = filepath.Clean(final)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return err
	}
	err = os.Chmod(tmp, 0o755) // MkdirTemp makes it 0700; outputs are ordinary data
	if err == nil {
		err = fill(tmp)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if _, err := os.Stat(final); err == nil {
		old := tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}
