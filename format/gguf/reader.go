package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/loftml/loft/internal/fileio"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// AlignmentKey is the metadata key that overrides DefaultAlignment.
const AlignmentKey = "general.alignment"

// MaxDims is ggml's GGML_MAX_DIMS: a tensor has at most 4 dimensions.
const MaxDims = 4

// maxNesting bounds arrays of arrays, so a crafted file cannot recurse
// deeply.
const maxNesting = 4

// maxPrealloc caps capacity hints taken from counts in the file: counts
// are already bounded by the bytes left, but a slice of strings or tensor
// infos is several times larger than their smallest encoding, so larger
// slices grow only as elements are actually read.
const maxPrealloc = 1 << 16

// ErrMissingKey is wrapped by the metadata accessors' error for a key the
// file does not have, so callers can apply defaults with errors.Is.
var ErrMissingKey = errors.New("metadata key missing")

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	// Dims in ggml's ne order: Dims[0] varies fastest (the reverse of a
	// PyTorch/safetensors shape).
	Dims   []int
	Type   Type
	Offset int64 // bytes from the start of the data section
	Size   int64 // bytes of data
}

// NumElements returns the product of the dims (1 for zero dims).
func (ti TensorInfo) NumElements() int {
	n := 1
	for _, d := range ti.Dims {
		n *= d
	}
	return n
}

// Shape returns the dims in row-major (PyTorch, safetensors) order: the
// reverse of Dims.
func (ti TensorInfo) Shape() []int {
	s := make([]int, len(ti.Dims))
	for i, d := range ti.Dims {
		s[len(s)-1-i] = d
	}
	return s
}

// File is an open GGUF file. Its methods are safe for concurrent use; slices
// from Raw are valid until Close.
type File struct {
	path       string
	mapping    *fileio.Mapping
	buf        []byte
	version    uint32
	alignment  int
	dataOffset int64
	keys       []string // file order
	meta       map[string]Value
	tensors    []TensorInfo // file order
	byName     map[string]int
}

// Open memory-maps and validates the GGUF file at path.
func Open(path string) (*File, error) {
	m, err := fileio.Map(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(path, m.Data)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.mapping = m
	return f, nil
}

// Parse validates an in-memory GGUF file; name is used in errors. The File
// references buf, which must not change while it is used.
func Parse(name string, buf []byte) (*File, error) {
	return parse(name, buf)
}

// decoder reads little-endian fields, refusing to read past the buffer.
type decoder struct {
	path string
	buf  []byte
	off  int
}

func (d *decoder) errf(format string, a ...any) error {
	return fmt.Errorf("gguf %s: at byte %d: %s", d.path, d.off, fmt.Sprintf(format, a...))
}

func (d *decoder) remaining() int { return len(d.buf) - d.off }

func (d *decoder) take(n int, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, d.errf("%s: needs %d bytes, the file has %d left", what, n, d.remaining())
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a uint64 length and that many bytes.
func (d *decoder) str(what string) (string, error) {
	n, err := d.u64(what)
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", d.errf("%s: string length %d runs past the end of the file (%d bytes left)", what, n, d.remaining())
	}
	b, _ := d.take(int(n), what)
	return string(b), nil
}

// count reads a uint64 count of items of at least minSize bytes each and
// refuses counts the rest of the file cannot hold.
func (d *decoder) count(what string, minSize int) (int, error) {
	n, err := d.u64(what)
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, d.errf("%s: count %d cannot fit in the %d bytes left", what, n, d.remaining())
	}
	return int(n), nil
}

func parse(path string, buf []byte) (*File, error) {
	d := &decoder{path: path, buf: buf}
	magic, err := d.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("gguf %s: magic %q is not %q: not a GGUF file", path, magic, Magic)
	}
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	if version != 2 && version != 3 {
		if version == 1 {
			return nil, fmt.Errorf("gguf %s: version 1 files are not supported (convert with a current llama.cpp)", path)
		}
		return nil, fmt.Errorf("gguf %s: unsupported version %d (a big-endian file?)", path, version)
	}
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	const minTensorInfo = 8 + 4 + 4 + 8 // name length, n_dims, type, offset
	if nTensors > uint64(d.remaining()/minTensorInfo) {
		return nil, d.errf("tensor count %d cannot fit in the %d-byte file", nTensors, len(buf))
	}
	nKV, err := d.count("metadata key-value count", 8+4+1)
	if err != nil {
		return nil, err
	}
	f := &File{
		path:      path,
		buf:       buf,
		version:   version,
		alignment: DefaultAlignment,
		meta:      make(map[string]Value, min(nKV, maxPrealloc)),
		byName:    make(map[string]int, min(int(nTensors), maxPrealloc)),
	}
	for i := 0; i < nKV; i++ {
		key, err := d.str(fmt.Sprintf("metadata key #%d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := f.meta[key]; dup {
			return nil, d.errf("metadata key %q appears twice", key)
		}
		vt, err := d.u32(fmt.Sprintf("metadata key %q: value type", key))
		if err != nil {
			return nil, err
		}
		v, err := d.value(key, ValueType(vt), 0)
		if err != nil {
			return nil, err
		}
		f.meta[key] = v
		f.keys = append(f.keys, key)
	}
	if v, ok := f.meta[AlignmentKey]; ok {
		a, ok := v.asInt64()
		if !ok || a <= 0 || a&(a-1) != 0 || a > 1<<30 {
			return nil, fmt.Errorf("gguf %s: metadata key %q = %v is not a positive power of two", path, AlignmentKey, v)
		}
		f.alignment = int(a)
	}
	f.tensors = make([]TensorInfo, 0, min(int(nTensors), maxPrealloc))
	for i := 0; i < int(nTensors); i++ {
		ti, err := d.tensorInfo(i, f.alignment)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byName[ti.Name]; dup {
			return nil, d.errf("tensor %q appears twice", ti.Name)
		}
		f.byName[ti.Name] = len(f.tensors)
		f.tensors = append(f.tensors, ti)
	}
	// The data section starts at the next multiple of the alignment.
	f.dataOffset = int64(d.off)
	if r := f.dataOffset % int64(f.alignment); r != 0 {
		f.dataOffset += int64(f.alignment) - r
	}
	dataLen := int64(len(buf)) - f.dataOffset
	for _, ti := range f.tensors {
		if ti.Size > 0 && (dataLen < 0 || ti.Offset > dataLen || ti.Size > dataLen-ti.Offset) {
			return nil, fmt.Errorf("gguf %s: tensor %q: %d bytes at data offset %d run past the end of the file (data section %d + %d bytes)",
				path, ti.Name, ti.Size, ti.Offset, f.dataOffset, max(dataLen, 0))
		}
	}
	spans := make([]TensorInfo, 0, len(f.tensors))
	for _, ti := range f.tensors {
		if ti.Size > 0 {
			spans = append(spans, ti)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Offset < spans[j].Offset })
	for i := 1; i < len(spans); i++ {
		if prev, cur := spans[i-1], spans[i]; cur.Offset < prev.Offset+prev.Size {
			return nil, fmt.Errorf("gguf %s: tensors %q [%d, +%d) and %q [%d, +%d) overlap",
				path, prev.Name, prev.Offset, prev.Size, cur.Name, cur.Offset, cur.Size)
		}
	}
	return f, nil
}

// value reads one metadata value of type vt for key.
func (d *decoder) value(key string, vt ValueType, depth int) (Value, error) {
	what := fmt.Sprintf("metadata key %q", key)
	switch vt {
	case Uint8, Int8, Bool:
		b, err := d.take(1, what)
		if err != nil {
			return Value{}, err
		}
		switch vt {
		case Uint8:
			return ValueOf(b[0]), nil
		case Int8:
			return ValueOf(int8(b[0])), nil
		}
		if b[0] > 1 {
			return Value{}, d.errf("%s: bool byte %d is neither 0 nor 1", what, b[0])
		}
		return ValueOf(b[0] == 1), nil
	case Uint16, Int16:
		b, err := d.take(2, what)
		if err != nil {
			return Value{}, err
		}
		u := binary.LittleEndian.Uint16(b)
		if vt == Uint16 {
			return ValueOf(u), nil
		}
		return ValueOf(int16(u)), nil
	case Uint32, Int32, Float32:
		u, err := d.u32(what)
		if err != nil {
			return Value{}, err
		}
		switch vt {
		case Uint32:
			return ValueOf(u), nil
		case Int32:
			return ValueOf(int32(u)), nil
		}
		return ValueOf(math.Float32frombits(u)), nil
	case Uint64, Int64, Float64:
		u, err := d.u64(what)
		if err != nil {
			return Value{}, err
		}
		switch vt {
		case Uint64:
			return ValueOf(u), nil
		case Int64:
			return ValueOf(int64(u)), nil
		}
		return ValueOf(math.Float64frombits(u)), nil
	case String:
		s, err := d.str(what)
		if err != nil {
			return Value{}, err
		}
		return ValueOf(s), nil
	case Array:
		if depth >= maxNesting {
			return Value{}, d.errf("%s: arrays nested deeper than %d", what, maxNesting)
		}
		et, err := d.u32(what + ": array type")
		if err != nil {
			return Value{}, err
		}
		elem := ValueType(et)
		if elem.minSize() < 0 {
			return Value{}, d.errf("%s: unknown array element type %d", what, et)
		}
		n, err := d.count(what+": array length", elem.minSize())
		if err != nil {
			return Value{}, err
		}
		return d.array(key, elem, n, depth)
	}
	return Value{}, d.errf("%s: unknown value type %d", what, uint32(vt))
}

// array reads n elements of type elem; count has checked they can fit.
func (d *decoder) array(key string, elem ValueType, n int, depth int) (Value, error) {
	what := fmt.Sprintf("metadata key %q", key)
	if sz := elem.fixedSize(); sz > 0 {
		b, err := d.take(n*sz, what)
		if err != nil {
			return Value{}, err
		}
		switch elem {
		case Uint8:
			return ArrayOf(slices.Clone(b)), nil
		case Int8:
			xs := make([]int8, n)
			for i := range xs {
				xs[i] = int8(b[i])
			}
			return ArrayOf(xs), nil
		case Bool:
			xs := make([]bool, n)
			for i := range xs {
				if b[i] > 1 {
					return Value{}, d.errf("%s: element %d: bool byte %d is neither 0 nor 1", what, i, b[i])
				}
				xs[i] = b[i] == 1
			}
			return ArrayOf(xs), nil
		case Uint16:
			return ArrayOf(decodeSlice(b, 2, func(b []byte) uint16 { return binary.LittleEndian.Uint16(b) })), nil
		case Int16:
			return ArrayOf(decodeSlice(b, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })), nil
		case Uint32:
			return ArrayOf(decodeSlice(b, 4, binary.LittleEndian.Uint32)), nil
		case Int32:
			return ArrayOf(decodeSlice(b, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })), nil
		case Float32:
			return ArrayOf(decodeSlice(b, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })), nil
		case Uint64:
			return ArrayOf(decodeSlice(b, 8, binary.LittleEndian.Uint64)), nil
		case Int64:
			return ArrayOf(decodeSlice(b, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })), nil
		case Float64:
			return ArrayOf(decodeSlice(b, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })), nil
		}
	}
	switch elem {
	case String:
		xs := make([]string, 0, min(n, maxPrealloc))
		for i := 0; i < n; i++ {
			s, err := d.str(what)
			if err != nil {
				return Value{}, fmt.Errorf("%w (array element %d)", err, i)
			}
			xs = append(xs, s)
		}
		return ArrayOf(xs), nil
	case Array:
		xs := make([]Value, 0, min(n, maxPrealloc))
		for i := 0; i < n; i++ {
			v, err := d.value(key, Array, depth+1)
			if err != nil {
				return Value{}, err
			}
			xs = append(xs, v)
		}
		return ArrayOfArrays(xs), nil
	}
	return Value{}, d.errf("%s: unknown array element type %d", what, uint32(elem))
}

func decodeSlice[T any](b []byte, size int, get func([]byte) T) []T {
	xs := make([]T, len(b)/size)
	for i := range xs {
		xs[i] = get(b[i*size:])
	}
	return xs
}

// tensorInfo reads and checks the i-th tensor info.
func (d *decoder) tensorInfo(i, alignment int) (TensorInfo, error) {
	name, err := d.str(fmt.Sprintf("tensor #%d: name", i))
	if err != nil {
		return TensorInfo{}, err
	}
	what := fmt.Sprintf("tensor %q", name)
	nDims, err := d.u32(what + ": n_dims")
	if err != nil {
		return TensorInfo{}, err
	}
	if nDims > MaxDims {
		return TensorInfo{}, d.errf("%s: %d dims, ggml allows at most %d", what, nDims, MaxDims)
	}
	ti := TensorInfo{Name: name, Dims: make([]int, nDims)}
	numel := uint64(1)
	for j := range ti.Dims {
		n, err := d.u64(what + ": dims")
		if err != nil {
			return TensorInfo{}, err
		}
		// Bound each product by 2^62 elements: larger cannot be real and
		// keeps the size arithmetic below from overflowing.
		if n > 1<<62 || (n != 0 && numel > (1<<62)/n) {
			return TensorInfo{}, d.errf("%s: dims overflow", what)
		}
		numel *= n
		ti.Dims[j] = int(n)
	}
	t, err := d.u32(what + ": type")
	if err != nil {
		return TensorInfo{}, err
	}
	ti.Type = Type(t)
	info, ok := typeInfos[ti.Type]
	if !ok {
		return TensorInfo{}, d.errf("%s: unsupported ggml type %s", what, ti.Type)
	}
	if nDims > 0 && ti.Dims[0]%info.blockSize != 0 {
		return TensorInfo{}, d.errf("%s: row of %d elements is not a multiple of the %s block size %d", what, ti.Dims[0], ti.Type, info.blockSize)
	}
	if numel%uint64(info.blockSize) != 0 {
		return TensorInfo{}, d.errf("%s: %d elements are not a multiple of the %s block size %d", what, numel, ti.Type, info.blockSize)
	}
	blocks := numel / uint64(info.blockSize)
	if blocks > math.MaxInt64/uint64(info.typeSize) {
		return TensorInfo{}, d.errf("%s: size overflows", what)
	}
	ti.Size = int64(blocks * uint64(info.typeSize))
	off, err := d.u64(what + ": offset")
	if err != nil {
		return TensorInfo{}, err
	}
	if off > math.MaxInt64 || off%uint64(alignment) != 0 {
		return TensorInfo{}, d.errf("%s: offset %d is not a multiple of the alignment %d", what, off, alignment)
	}
	ti.Offset = int64(off)
	return ti, nil
}

// Path returns the file's path (or the name given to Parse).
func (f *File) Path() string { return f.path }

// Version returns the GGUF version (2 or 3).
func (f *File) Version() uint32 { return f.version }

// Alignment returns the data alignment in bytes.
func (f *File) Alignment() int { return f.alignment }

// DataOffset returns the absolute file offset of the data section.
func (f *File) DataOffset() int64 { return f.dataOffset }

// Close releases the memory map. Slices from Raw become invalid.
func (f *File) Close() error {
	if f.mapping == nil {
		return nil
	}
	err := f.mapping.Close()
	f.mapping = nil
	f.buf = nil
	return err
}

// Tensors returns the tensor infos in file order.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, ti := range f.tensors {
		out[i] = ti
		out[i].Dims = slices.Clone(ti.Dims)
	}
	return out
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	ti := f.tensors[i]
	ti.Dims = slices.Clone(ti.Dims)
	return ti, true
}

// Raw returns the named tensor's stored bytes and info. The slice aliases
// the read-only file mapping: do not modify it or use it after Close.
func (f *File) Raw(name string) ([]byte, TensorInfo, error) {
	i, ok := f.byName[name]
	if !ok {
		return nil, TensorInfo{}, fmt.Errorf("gguf %s: no tensor %q", f.path, name)
	}
	ti := f.tensors[i]
	if ti.Size == 0 {
		return []byte{}, ti, nil
	}
	if f.buf == nil {
		return nil, ti, fmt.Errorf("gguf %s: tensor %q read after Close", f.path, name)
	}
	start := f.dataOffset + ti.Offset
	return f.buf[start : start+ti.Size : start+ti.Size], ti, nil
}

// Float32 returns the named tensor dequantised to a new float32 slice of
// NumElements values, Dims[0] fastest (row-major in Shape order).
func (f *File) Float32(name string) ([]float32, error) {
	b, ti, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, ti.NumElements())
	if err := Dequantize(ti.Type, b, out); err != nil {
		return nil, fmt.Errorf("gguf %s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// Float32Into writes the named tensor's values into dst, dequantised as
// Float32 does, without a copy of its own; dst must hold exactly
// NumElements values.
func (f *File) Float32Into(name string, dst []float32) error {
	b, ti, err := f.Raw(name)
	if err != nil {
		return err
	}
	if n := ti.NumElements(); len(dst) != n {
		return fmt.Errorf("gguf %s: tensor %q has %d values, not %d", f.path, name, n, len(dst))
	}
	if err := Dequantize(ti.Type, b, dst); err != nil {
		return fmt.Errorf("gguf %s: tensor %q: %w", f.path, name, err)
	}
	return nil
}
