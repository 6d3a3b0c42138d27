package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/loftml/loft/internal/jsonerr"
)

// Standard file names of a Hugging Face checkpoint folder.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Set is a checkpoint of one or more safetensors files read as one: a single
// file, or the shards named by an index's weight_map.
type Set struct {
	name     string // folder, index or file, for errors
	files    []*File
	owner    map[string]*File
	names    []string // sorted
	metadata map[string]string
}

// OpenDir opens the checkpoint in dir: model.safetensors when it exists,
// else model.safetensors.index.json and its shards, in transformers'
// order (and the Hub download's).
func OpenDir(dir string) (*Set, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		index := filepath.Join(dir, IndexFileName)
		if _, err := os.Stat(index); err == nil {
			return OpenIndex(index)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		return nil, fmt.Errorf("safetensors: %s holds neither %s nor %s", dir, SingleFileName, IndexFileName)
	}
	f, err := Open(single)
	if err != nil {
		return nil, err
	}
	return setOf(dir, []*File{f}), nil
}

// OpenFile opens a single safetensors file as a Set.
func OpenFile(path string) (*Set, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return setOf(path, []*File{f}), nil
}

func setOf(name string, files []*File) *Set {
	s := &Set{name: name, files: files, owner: map[string]*File{}, metadata: map[string]string{}}
	for _, f := range files {
		for _, n := range f.names {
			s.owner[n] = f
			s.names = append(s.names, n)
		}
		for k, v := range f.metadata {
			if _, ok := s.metadata[k]; !ok {
				s.metadata[k] = v
			}
		}
	}
	sort.Strings(s.names)
	return s
}

// indexFile is model.safetensors.index.json. Its "metadata" (total_size, a
// number) is informational and not checked.
type indexFile struct {
	WeightMap map[string]string `json:"weight_map"`
}

// OpenIndex opens a sharded checkpoint from its index file. Every tensor of
// the weight_map must be in the shard it names; shard names must be plain
// file names in the index's folder.
func OpenIndex(indexPath string) (_ *Set, err error) {
	buf, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx indexFile
	if err := json.Unmarshal(buf, &idx); err != nil {
		return nil, fmt.Errorf("safetensors %s: %v", indexPath, jsonerr.Describe(buf, err))
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors %s: weight_map is missing or empty", indexPath)
	}
	dir := filepath.Dir(indexPath)
	names := make([]string, 0, len(idx.WeightMap))
	for n := range idx.WeightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	shards := map[string]*File{}
	var files []*File
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
		}
	}()
	s := &Set{name: indexPath, owner: map[string]*File{}, metadata: map[string]string{}}
	for _, n := range names {
		shard := idx.WeightMap[n]
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || filepath.IsAbs(shard) {
			return nil, fmt.Errorf("safetensors %s: tensor %q: shard %q is not a file name in the index's folder", indexPath, n, shard)
		}
		f, ok := shards[shard]
		if !ok {
			f, err = Open(filepath.Join(dir, shard))
			if err != nil {
				return nil, fmt.Errorf("safetensors %s: tensor %q: %w", indexPath, n, err)
			}
			shards[shard] = f
			files = append(files, f)
			for k, v := range f.metadata {
				if _, ok := s.metadata[k]; !ok {
					s.metadata[k] = v
				}
			}
		}
		if _, ok := f.infos[n]; !ok {
			return nil, fmt.Errorf("safetensors %s: tensor %q is not in its shard %s", indexPath, n, shard)
		}
		s.owner[n] = f
	}
	// A tensor a shard holds but the index does not list is part of the
	// checkpoint all the same: listing it lets a loader report it as
	// unused, as it would in a single file, instead of losing it.
	for _, f := range files {
		for n := range f.infos {
			if _, ok := s.owner[n]; !ok {
				s.owner[n] = f
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	s.files = files
	s.names = names
	return s, nil
}

// Close closes every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Names returns every tensor name of the set, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Metadata returns the union of the files' __metadata__ maps (the first
// file's value wins a conflict). Do not modify it.
func (s *Set) Metadata() map[string]string { return s.metadata }

// Info describes the named tensor; Begin and End index its own file.
func (s *Set) Info(name string) (TensorInfo, bool) {
	f, ok := s.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// File returns the file that holds the named tensor.
func (s *Set) File(name string) (*File, bool) {
	f, ok := s.owner[name]
	return f, ok
}

// Raw returns the named tensor's stored bytes and dtype; see File.Raw.
func (s *Set) Raw(name string) ([]byte, DType, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, "", fmt.Errorf("safetensors %s: no tensor %q", s.name, name)
	}
	return f.Raw(name)
}

// Float32 returns a float32 copy of the named tensor; see File.Float32.
func (s *Set) Float32(name string) ([]float32, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", s.name, name)
	}
	return f.Float32(name)
}

// Float32Into writes the named tensor into dst; see File.Float32Into.
func (s *Set) Float32Into(name string, dst []float32) error {
	f, ok := s.owner[name]
	if !ok {
		return fmt.Errorf("safetensors %s: no tensor %q", s.name, name)
	}
	return f.Float32Into(name, dst)
}
