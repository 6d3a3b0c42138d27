package lora

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/loftml/loft/format/safetensors"
)

// MergeFolder writes outDir, a full Hugging Face model folder: baseDir's
// safetensors files with the same names, tensor names, shapes and dtypes,
// in which every adapted weight is replaced by its merged value W + s·B·A
// (transposed back to (in, out) for Conv1D weights), with metadata
// {"format": "pt"}; every other file of baseDir (config.json, tokenizer
// and generation files, chat template, the shard index) is copied. a is
// merged first if it was not. The folder is written beside outDir under a
// temporary name and renamed into place, so outDir is complete or absent;
// an existing non-empty outDir is refused.
func MergeFolder(baseDir, outDir string, a *Adapter) error {
	if !a.folded {
		if err := a.Merge(); err != nil {
			return err
		}
	}
	files, err := filepath.Glob(filepath.Join(baseDir, "*.safetensors"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("lora: %s holds no .safetensors weights to merge into (merging needs a Hugging Face model folder)", baseDir)
	}
	if ents, err := os.ReadDir(outDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("lora: output folder %s exists and is not empty", outDir)
	}
	// The checkpoint names a module's weight may have: its path + ".weight",
	// and for GPT-2 also without the "transformer." prefix.
	byName := map[string]*Linear{}
	for _, l := range a.Modules {
		byName[l.Name+".weight"] = l
		if s, ok := strings.CutPrefix(l.Name, "transformer."); ok {
			byName[s+".weight"] = l
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(outDir)), "."+filepath.Base(outDir)+".tmp-")
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700; a model folder is ordinary data
		os.RemoveAll(tmp)
		return fmt.Errorf("lora: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	written := map[*Linear]bool{}
	for _, path := range files {
		if err := mergeFile(path, filepath.Join(tmp, filepath.Base(path)), byName, written); err != nil {
			return err
		}
	}
	for _, l := range a.Modules {
		if !written[l] {
			return fmt.Errorf("lora: no tensor %s.weight in %s for adapted module %s", l.Name, baseDir, l.Name)
		}
	}
	ents, err := os.ReadDir(baseDir)
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".safetensors") {
			continue
		}
		// Stat follows links: a Hub snapshot's files are links into blobs/.
		if fi, err := os.Stat(filepath.Join(baseDir, e.Name())); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(baseDir, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(outDir); err != nil && !errors.Is(err, os.ErrNotExist) { // an empty folder
		return fmt.Errorf("lora: %w", err)
	}
	if err := os.Rename(tmp, outDir); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	done = true
	return nil
}

// mergeFile rewrites one safetensors file: merged weights re-encoded in
// the file's dtype, every other tensor copied byte for byte.
func mergeFile(src, dst string, byName map[string]*Linear, written map[*Linear]bool) error {
	f, err := safetensors.Open(src)
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		raw, dt, err := f.Raw(name)
		if err != nil {
			return fmt.Errorf("lora: %w", err)
		}
		l := byName[name]
		if l == nil {
			ts = append(ts, safetensors.Tensor{Name: name, DType: dt, Shape: info.Shape, Data: raw})
			continue
		}
		In, Out := l.base.In, l.base.Out
		v, want := l.base.W, []int{Out, In}
		if l.base.FanInFanOut { // Conv1D stores (in, out)
			v, want = transpose(v, Out, In), []int{In, Out}
		}
		if len(info.Shape) != 2 || info.Shape[0] != want[0] || info.Shape[1] != want[1] {
			return fmt.Errorf("lora: %s: tensor %q has shape %v, the merged weight is %v", src, name, info.Shape, want)
		}
		switch dt {
		case safetensors.F32, safetensors.F16, safetensors.BF16:
		default:
			return fmt.Errorf("lora: %s: tensor %q is %s; merged weights are written as F32, F16 or BF16 only", src, name, dt)
		}
		ts = append(ts, safetensors.Tensor{Name: name, DType: dt, Shape: info.Shape, Values: v})
		written[l] = true
	}
	md := map[string]string{}
	maps.Copy(md, f.Metadata())
	md["format"] = "pt" // transformers refuses safetensors without it
	if err := safetensors.Write(dst, ts, md); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	return nil
}

// transpose returns the (C, R) transpose of m (R, C).
func transpose(m []float32, R, C int) []float32 {
	t := make([]float32, len(m))
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			t[c*R+r] = m[r*C+c]
		}
	}
	return t
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync() // the folder is renamed into place afterwards: its files must be on disk first
	}
	if err != nil {
		out.Close()
		return fmt.Errorf("lora: copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("lora: copying %s: %w", src, err)
	}
	return nil
}
