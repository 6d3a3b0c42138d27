package lora

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/loftml/loft/format/safetensors"
)

// MergeFolder writes outDir, a full Hugging Face model folder: the
// checkpoint of baseDir as model.Load reads it (model.safetensors, or the
// shards its model.safetensors.index.json names) with the same file
// names, tensor names, shapes and dtypes, in which every adapted weight is
// replaced by its merged value W + s·B·A (transposed back to (in, out) for
// Conv1D weights), with metadata {"format": "pt"}; every other file of
// baseDir and of its subfolders (config.json, tokenizer and generation
// files, chat template, the shard index, a sentence-transformers model's
// 1_Pooling/) is copied, except weights the checkpoint does not consist
// of: another format's copy (pytorch_model*.bin and its index, TensorFlow,
// Flax, GGUF, ONNX, .pt/.pth/.ckpt files), another .safetensors file
// (Mistral's consolidated.safetensors), which would hold the unmerged base
// for a loader that prefers them, or a shard index beside
// model.safetensors, which names shards the folder does not hold. Those
// are left out and returned. a is
// merged first if it was not. The folder is written beside outDir under a
// temporary name and renamed into place, so outDir is complete or absent;
// an existing outDir that is a file or a non-empty folder is refused.
func MergeFolder(baseDir, outDir string, a *Adapter) (left []string, err error) {
	if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("lora: output folder %s exists and is not a folder", outDir)
	}
	if ents, err := os.ReadDir(outDir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("lora: output folder %s exists and is not empty", outDir)
	}
	weights, err := checkpointFiles(baseDir)
	if err != nil {
		return nil, err
	}
	if !a.folded {
		if err := a.Merge(); err != nil {
			return nil, err
		}
	}
	// The checkpoint names a module's weight may have: its path +
	// ".weight", and without the head model's wrapper prefix (GPT-2's
	// "transformer.", a BertModel checkpoint's missing "bert.").
	byName := map[string]*Linear{}
	for _, l := range a.Modules {
		byName[l.Name+".weight"] = l
		for _, p := range wrapperPrefixes {
			if s, ok := strings.CutPrefix(l.Name, p); ok {
				byName[s+".weight"] = l
			}
		}
	}
	parent := filepath.Dir(filepath.Clean(outDir))
	if err := os.MkdirAll(parent, 0o777); err != nil { // as loft train makes --out
		return nil, fmt.Errorf("lora: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(outDir)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700; a model folder is ordinary data
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("lora: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	written := map[*Linear]bool{}
	for _, name := range weights {
		if err := mergeFile(filepath.Join(baseDir, name), filepath.Join(tmp, name), byName, written); err != nil {
			return nil, err
		}
	}
	for _, l := range a.Modules {
		if !written[l] {
			return nil, fmt.Errorf("lora: no tensor %s.weight in %s for adapted module %s", l.Name, baseDir, l.Name)
		}
	}
	// With model.safetensors there, the checkpoint is that file and a
	// shard index beside it is stale: it would name shards the merged
	// folder does not hold.
	stale := func(name string) bool {
		return name == safetensors.IndexFileName && slices.Contains(weights, safetensors.SingleFileName)
	}
	if err := copyRest(baseDir, tmp, "", func(name string) bool { return slices.Contains(weights, name) }, func(name string) bool {
		return IsWeightFile(filepath.Base(name)) || stale(name)
	}, &left); err != nil {
		return nil, err
	}
	if err := os.Remove(outDir); err != nil && !errors.Is(err, os.ErrNotExist) { // an empty folder
		return nil, fmt.Errorf("lora: %w", err)
	}
	if err := os.Rename(tmp, outDir); err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	done = true
	return left, nil
}

// copyRest copies into dst the files of baseDir's subfolder rel ("" for
// baseDir) and of its subfolders (a sentence-transformers model's
// 1_Pooling/, which its modules.json names), but those merged (skip) and
// those that hold weights the merge does not rewrite (leave), whose names
// (relative to baseDir, with slashes) it adds to left. Links to files are
// followed (a Hub snapshot's files link into blobs/), links to folders are
// not (one to "." would copy the folder into itself for ever, one to a
// dataset folder all of it); hidden folders (.git, the .cache of a
// local_dir download) are not the model's and are passed over.
func copyRest(baseDir, dst, rel string, skip, leave func(name string) bool, left *[]string) error {
	ents, err := os.ReadDir(filepath.Join(baseDir, rel))
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	for _, e := range ents {
		name := path.Join(rel, e.Name())
		if skip(name) {
			continue
		}
		fi, err := os.Stat(filepath.Join(baseDir, name))
		switch {
		case err != nil: // a dangling link
		case fi.IsDir():
			if strings.HasPrefix(e.Name(), ".") || e.Type()&fs.ModeSymlink != 0 {
				continue
			}
			if err := os.Mkdir(filepath.Join(dst, name), 0o755); err != nil {
				return fmt.Errorf("lora: %w", err)
			}
			if err := copyRest(baseDir, dst, name, skip, leave, left); err != nil {
				return err
			}
		case !fi.Mode().IsRegular():
		case leave(name):
			*left = append(*left, name)
		default:
			if err := copyFile(filepath.Join(baseDir, name), filepath.Join(dst, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkpointFiles returns the names of the safetensors files of the
// checkpoint in dir, as model.Load opens it (safetensors.OpenDir).
func checkpointFiles(dir string) ([]string, error) {
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lora: merging needs a Hugging Face model folder with safetensors weights: %w", err)
	}
	defer set.Close()
	var names []string
	for _, n := range set.Names() {
		f, _ := set.File(n)
		if b := filepath.Base(f.Path()); !slices.Contains(names, b) {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	return names, nil
}

// IsWeightFile reports whether a file of a model folder holds model
// weights, in any format (safetensors, PyTorch's pytorch_model*.bin and
// .pt/.pth/.ckpt, TensorFlow, Flax, GGUF, ONNX), or their shard index.
// A Trainer's training_args.bin or an old PEFT adapter_model.bin is not
// one. The merge rewrites the safetensors checkpoint and leaves out the
// others; loft train refuses an --out holding any but its adapter.
func IsWeightFile(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".safetensors", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".ot",
		".bin.index.json", ".h5.index.json", ".msgpack.index.json"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return strings.HasPrefix(n, "pytorch_model") && strings.HasSuffix(n, ".bin")
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
	// As transformers' save_pretrained: "format" alone (it refuses a file
	// without it). The base's other metadata describes the base file (a
	// converter's "source" file), not the merged one.
	if err := safetensors.Write(dst, ts, map[string]string{"format": "pt"}); err != nil {
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
