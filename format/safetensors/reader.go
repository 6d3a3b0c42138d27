package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/loftml/loft/internal/fileio"
	"github.com/loftml/loft/tensor"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation does
// (100 MB), so a lying length cannot make the reader allocate without limit.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding the string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // row-major, last dimension fastest; empty for a scalar
	// Begin and End are byte offsets into the data area (after the header).
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (ti TensorInfo) NumElements() int {
	n := 1
	for _, d := range ti.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file. Its methods are safe for concurrent use;
// slices from Raw are valid until Close.
type File struct {
	path     string
	mapping  *fileio.Mapping
	data     []byte // the data area
	metadata map[string]string
	infos    map[string]*TensorInfo
	names    []string // sorted
}

// Open memory-maps and validates the safetensors file at path.
func Open(path string) (*File, error) {
	m, err := fileio.Map(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(path, m.Data)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.mapping = m
	return f, nil
}

// Parse validates an in-memory safetensors file; name is used in errors.
// The returned File references buf, which must not change while it is used.
func Parse(name string, buf []byte) (*File, error) {
	return parse(name, buf)
}

// rawInfo is one header entry as JSON spells it.
type rawInfo struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

func parse(path string, buf []byte) (*File, error) {
	errf := func(format string, a ...any) error {
		return fmt.Errorf("safetensors %s: "+format, append([]any{path}, a...)...)
	}
	if len(buf) < 8 {
		return nil, errf("file is %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > MaxHeaderSize {
		return nil, errf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, errf("header length %d runs past the end of the %d-byte file", n, len(buf))
	}
	header := buf[8 : 8+n]
	if len(header) == 0 || header[0] != '{' {
		return nil, errf("header does not start with '{'")
	}
	var entries map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(header))
	if err := dec.Decode(&entries); err != nil {
		return nil, errf("header JSON: %v", err)
	}
	// The spec pads the header with spaces; anything else after the object
	// is corruption.
	if rest := bytes.TrimRight(header[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return nil, errf("header JSON: %d stray bytes after the object", len(rest))
	}
	if entries == nil {
		return nil, errf("header JSON is null, not an object")
	}
	f := &File{
		path:     path,
		data:     buf[8+n:],
		metadata: map[string]string{},
		infos:    make(map[string]*TensorInfo, len(entries)),
	}
	dataLen := int64(len(f.data))
	// Walk the entries in sorted order so errors are reproducible.
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		raw := entries[name]
		if name == metadataKey {
			var md map[string]any
			if err := json.Unmarshal(raw, &md); err != nil {
				return nil, errf("%s: %v", metadataKey, err)
			}
			for k, v := range md {
				s, ok := v.(string)
				if !ok {
					return nil, errf("%s: value of key %q is %T, not a string", metadataKey, k, v)
				}
				f.metadata[k] = s
			}
			continue
		}
		var ri rawInfo
		if err := json.Unmarshal(raw, &ri); err != nil {
			return nil, errf("tensor %q: %v", name, err)
		}
		if ri.DType == nil || ri.Shape == nil || ri.DataOffsets == nil {
			return nil, errf("tensor %q: needs dtype, shape and data_offsets", name)
		}
		dt := DType(*ri.DType)
		size := dt.Size()
		if size == 0 {
			return nil, errf("tensor %q: unknown dtype %q", name, *ri.DType)
		}
		shape := make([]int, len(*ri.Shape))
		numel := int64(1)
		for i, d := range *ri.Shape {
			if d < 0 {
				return nil, errf("tensor %q: negative dimension %d in shape %v", name, d, *ri.Shape)
			}
			if d != 0 && numel > math.MaxInt64/int64(size)/d {
				return nil, errf("tensor %q: shape %v overflows", name, *ri.Shape)
			}
			shape[i] = int(d)
			numel *= d
		}
		off := *ri.DataOffsets
		if len(off) != 2 {
			return nil, errf("tensor %q: data_offsets has %d entries, want 2", name, len(off))
		}
		begin, end := off[0], off[1]
		if begin < 0 || end < begin || end > dataLen {
			return nil, errf("tensor %q: data_offsets [%d, %d] outside the %d-byte data area", name, begin, end, dataLen)
		}
		if numel*int64(size) != end-begin {
			return nil, errf("tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] give %d",
				name, *ri.Shape, dt, numel*int64(size), begin, end, end-begin)
		}
		f.infos[name] = &TensorInfo{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}
		f.names = append(f.names, name)
	}
	// The tensors tile the data area: in offset order each starts where
	// the one before ends, the first at 0, and the last ends with the file,
	// as the reference implementation's validate requires. So no two share
	// bytes, and no bytes lie unaccounted for: a header that skips or
	// repeats bytes lies about its tensors.
	spans := make([]*TensorInfo, 0, len(f.names))
	for _, name := range f.names {
		spans = append(spans, f.infos[name])
	}
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		return a.Begin < b.Begin || a.Begin == b.Begin && a.End < b.End
	})
	at := int64(0)
	for i, cur := range spans {
		switch {
		case cur.Begin < at:
			prev := spans[i-1]
			return nil, errf("tensors %q data_offsets [%d, %d] and %q [%d, %d] overlap",
				prev.Name, prev.Begin, prev.End, cur.Name, cur.Begin, cur.End)
		case cur.Begin > at:
			return nil, errf("tensor %q: data_offsets [%d, %d] leave bytes [%d, %d) of the data area to no tensor",
				cur.Name, cur.Begin, cur.End, at, cur.Begin)
		}
		at = cur.End
	}
	if at != dataLen {
		return nil, errf("the tensors end at byte %d of the %d-byte data area: %d bytes follow them", at, dataLen, dataLen-at)
	}
	return f, nil
}

// Path returns the file's path (or the name given to Parse).
func (f *File) Path() string { return f.path }

// Close releases the file's memory map. Slices from Raw become invalid.
func (f *File) Close() error {
	if f.mapping == nil {
		return nil
	}
	err := f.mapping.Close()
	f.mapping = nil
	f.data = nil
	return err
}

// Metadata returns the header's __metadata__ map (empty if absent). The map
// is shared: do not modify it.
func (f *File) Metadata() map[string]string { return f.metadata }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	ti, ok := f.infos[name]
	if !ok {
		return TensorInfo{}, false
	}
	c := *ti
	c.Shape = slices.Clone(ti.Shape)
	return c, true
}

// Raw returns the named tensor's bytes (little-endian, as stored) and dtype.
// The slice aliases the read-only file mapping: do not modify it, and do not
// use it after Close.
func (f *File) Raw(name string) ([]byte, DType, error) {
	ti, ok := f.infos[name]
	if !ok {
		return nil, "", fmt.Errorf("safetensors %s: no tensor %q", f.path, name)
	}
	if f.data == nil && ti.End > 0 {
		return nil, "", fmt.Errorf("safetensors %s: tensor %q read after Close", f.path, name)
	}
	return f.data[ti.Begin:ti.End:ti.End], ti.DType, nil
}

// Float32 returns a new float32 copy of the named tensor, converting F16,
// BF16 and F64 values; other dtypes are an error (use Raw).
func (f *File) Float32(name string) ([]float32, error) {
	b, dt, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	var out []float32
	if sz := floatSize(dt); sz > 0 {
		out = make([]float32, len(b)/sz)
	}
	if err := decodeFloat32(out, b, dt); err != nil {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// Float32Into writes the named tensor's values into dst, converted as
// Float32 does, without a copy of its own; dst must hold exactly as many
// values as the tensor.
func (f *File) Float32Into(name string, dst []float32) error {
	b, dt, err := f.Raw(name)
	if err != nil {
		return err
	}
	if err := decodeFloat32(dst, b, dt); err != nil {
		return fmt.Errorf("safetensors %s: tensor %q: %w", f.path, name, err)
	}
	return nil
}

// decodeFloat32 converts little-endian F32/F16/BF16/F64 bytes b into dst,
// which must hold as many values as b does.
func decodeFloat32(dst []float32, b []byte, dt DType) error {
	sz := floatSize(dt)
	if sz == 0 {
		return fmt.Errorf("dtype %s is not a float type (F32, F16, BF16, F64); use Raw", dt)
	}
	if len(b) != sz*len(dst) {
		return fmt.Errorf("%d bytes of %s do not make %d values", len(b), dt, len(dst))
	}
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return nil
	case F16:
		for i := range dst {
			dst[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return nil
	case BF16:
		for i := range dst {
			dst[i] = tensor.BF16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return nil
	default: // F64
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return nil
	}
}

// floatSize returns the bytes per value of the float dtypes decodeFloat32
// converts, 0 for any other.
func floatSize(dt DType) int {
	switch dt {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case F64:
		return 8
	}
	return 0
}
