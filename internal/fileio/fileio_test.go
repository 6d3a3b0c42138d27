package fileio

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMapReadsFile(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("loft"), 1000)
	p := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Map(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Data, want) {
		t.Fatalf("mapped %d bytes, want the file's %d", len(m.Data), len(want))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	empty := filepath.Join(dir, "empty.bin")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = Map(empty)
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if len(m.Data) != 0 {
		t.Fatalf("empty file mapped to %d bytes", len(m.Data))
	}
	m.Close()

	if _, err := Map(filepath.Join(dir, "missing.bin")); err == nil {
		t.Fatal("mapping a missing file succeeded")
	}
	if _, err := Map(dir); err == nil {
		t.Fatal("mapping a folder succeeded")
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteAtomic(p, func(w *bufio.Writer) error {
		w.WriteString("partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("failed write changed the file to %q", b)
	}
	if err := WriteAtomic(p, func(w *bufio.Writer) error {
		_, err := w.WriteString("new")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("file holds %q, want new", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("folder holds %d entries, want only out.bin (temporary files left behind?)", len(ents))
	}
}

func TestWriteFileAndDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("%s holds %q, want two", p, b)
	}
	final := filepath.Join(dir, "out", "ckpt")
	fill := func(content string) func(string) error {
		return func(d string) error { return os.WriteFile(filepath.Join(d, "f"), []byte(content), 0o644) }
	}
	if err := WriteDir(final, fill("first")); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old folder as it was and no temporary folder.
	if err := WriteDir(final, func(d string) error { fill("half")(d); return errors.New("disk full") }); err == nil {
		t.Fatal("a failing fill returned no error")
	}
	if b, _ := os.ReadFile(filepath.Join(final, "f")); string(b) != "first" {
		t.Fatalf("after a failed write the folder holds %q, want first", b)
	}
	if err := WriteDir(final, fill("second")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(final, "f")); string(b) != "second" {
		t.Fatalf("the folder holds %q, want second", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(final))
	if len(ents) != 1 {
		t.Fatalf("leftovers beside the folder: %v", ents)
	}
	if st, _ := os.Stat(final); st.Mode().Perm() != 0o755 {
		t.Fatalf("folder mode %v, want 0755", st.Mode().Perm())
	}
}
