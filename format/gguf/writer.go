package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/loftml/loft/internal/fileio"
)

// KV is one metadata key-value to write.
type KV struct {
	Key   string
	Value Value
}

// Tensor is one tensor to write: encoded data of a ggml type.
type Tensor struct {
	Name string
	Type Type
	Dims []int  // ne order: Dims[0] fastest (reverse of a PyTorch shape)
	Data []byte // exactly the bytes of the dims in Type
	// Values is used when Data is nil: the float32 values (Dims[0]
	// fastest), encoded to Type (F32, F16, BF16 or Q8_0) chunk by chunk as
	// the file is written, so a large model is exported without a second
	// copy in memory.
	Values []float32
}

// encodeValues encodes float32 values as t (F32, F16, BF16, or Q8_0 with a
// multiple of 32 values); ok is false for other types.
func encodeValues(t Type, v []float32) (b []byte, ok bool, err error) {
	switch t {
	case F32:
		return EncodeF32(v), true, nil
	case F16:
		return EncodeF16(v), true, nil
	case BF16:
		return EncodeBF16(v), true, nil
	case Q8_0:
		b, err := QuantizeQ8_0(v)
		return b, true, err
	}
	return nil, false, nil
}

// FromFloat32 encodes v (Dims[0] fastest) as a tensor of type t: F32, F16,
// BF16 or Q8_0 (Dims[0] a multiple of 32).
func FromFloat32(name string, t Type, dims []int, v []float32) (Tensor, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return Tensor{}, fmt.Errorf("gguf: tensor %q: negative dim in %v", name, dims)
		}
		n *= d
	}
	if n != len(v) {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: dims %v hold %d values, got %d", name, dims, n, len(v))
	}
	if t == Q8_0 && len(dims) > 0 && dims[0]%32 != 0 {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: Q8_0 rows need a multiple of 32 elements, dims %v", name, dims)
	}
	b, ok, err := encodeValues(t, v)
	if !ok {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: FromFloat32 writes F32, F16, BF16 or Q8_0, not %s", name, t)
	}
	if err != nil {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return Tensor{Name: name, Type: t, Dims: append([]int(nil), dims...), Data: b}, nil
}

// Write writes a GGUF v3 file: the metadata in the given order, then the
// tensors in the given order, each aligned to general.alignment (from kvs,
// else 32). The file is written to a temporary name and renamed into place.
func Write(path string, kvs []KV, tensors []Tensor) error {
	errf := func(format string, a ...any) error {
		return fmt.Errorf("gguf %s: "+format, append([]any{path}, a...)...)
	}
	alignment := DefaultAlignment
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return errf("metadata key %q appears twice", kv.Key)
		}
		seen[kv.Key] = true
		if err := checkValue(kv.Value, 0); err != nil {
			return errf("metadata key %q: %v", kv.Key, err)
		}
		if kv.Key == AlignmentKey {
			a, ok := kv.Value.x.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return errf("metadata key %q must be a uint32 power of two, got %v", AlignmentKey, kv.Value)
			}
			alignment = int(a)
		}
	}
	pad := func(n int64) int64 { return (n + int64(alignment) - 1) / int64(alignment) * int64(alignment) }
	offsets := make([]int64, len(tensors))
	var off int64
	names := map[string]bool{}
	for i, t := range tensors {
		if names[t.Name] {
			return errf("tensor %q appears twice", t.Name)
		}
		names[t.Name] = true
		info, ok := typeInfos[t.Type]
		if !ok {
			return errf("tensor %q: unknown type %s", t.Name, t.Type)
		}
		if len(t.Dims) > MaxDims {
			return errf("tensor %q: %d dims, at most %d", t.Name, len(t.Dims), MaxDims)
		}
		n := 1
		for _, d := range t.Dims {
			if d < 0 {
				return errf("tensor %q: negative dim in %v", t.Name, t.Dims)
			}
			n *= d
		}
		if len(t.Dims) > 0 && t.Dims[0]%info.blockSize != 0 {
			return errf("tensor %q: row of %d elements is not a multiple of the %s block size %d", t.Name, t.Dims[0], t.Type, info.blockSize)
		}
		if n%info.blockSize != 0 {
			return errf("tensor %q: %d elements are not a multiple of the %s block size %d", t.Name, n, t.Type, info.blockSize)
		}
		want := n / info.blockSize * info.typeSize
		if t.Data == nil && t.Values != nil {
			if _, ok, _ := encodeValues(t.Type, nil); !ok {
				return errf("tensor %q: Values are written as F32, F16, BF16 or Q8_0, not %s", t.Name, t.Type)
			}
			if len(t.Values) != n {
				return errf("tensor %q: dims %v hold %d values, got %d", t.Name, t.Dims, n, len(t.Values))
			}
		} else if len(t.Data) != want {
			return errf("tensor %q: dims %v of %s need %d bytes, got %d", t.Name, t.Dims, t.Type, want, len(t.Data))
		}
		offsets[i] = off
		off = pad(off + int64(want))
	}
	return fileio.WriteAtomic(path, func(w *bufio.Writer) error {
		e := &encoder{w: w}
		e.bytes([]byte(Magic))
		e.u32(3)
		e.u64(uint64(len(tensors)))
		e.u64(uint64(len(kvs)))
		for _, kv := range kvs {
			e.str(kv.Key)
			e.u32(uint32(kv.Value.typ))
			e.value(kv.Value)
		}
		for i, t := range tensors {
			e.str(t.Name)
			e.u32(uint32(len(t.Dims)))
			for _, d := range t.Dims {
				e.u64(uint64(d))
			}
			e.u32(uint32(t.Type))
			e.u64(uint64(offsets[i]))
		}
		e.zeros(pad(e.n) - e.n)
		start := e.n
		for _, t := range tensors {
			if t.Data == nil && t.Values != nil {
				// Chunks of whole Q8_0 blocks.
				const chunk = 32 << 9
				for i := 0; i < len(t.Values); i += chunk {
					b, _, err := encodeValues(t.Type, t.Values[i:min(i+chunk, len(t.Values))])
					if err != nil {
						return fmt.Errorf("gguf %s: tensor %q: %w", path, t.Name, err)
					}
					e.bytes(b)
				}
			} else {
				e.bytes(t.Data)
			}
			e.zeros(pad(e.n-start) - (e.n - start))
		}
		if e.err != nil {
			return fmt.Errorf("gguf %s: %w", path, e.err)
		}
		return nil
	})
}

// checkValue refuses values the encoder cannot write (a zero Value, or an
// array whose Go slice disagrees with its element type).
func checkValue(v Value, depth int) error {
	if v.x == nil {
		return fmt.Errorf("empty value")
	}
	if v.typ != Array {
		return nil
	}
	if depth >= maxNesting {
		return fmt.Errorf("arrays nested deeper than %d", maxNesting)
	}
	if xs, ok := v.x.([]Value); ok {
		for i, x := range xs {
			if x.typ != Array {
				return fmt.Errorf("element %d of an array of arrays is a %s", i, x.typ)
			}
			if err := checkValue(x, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// encoder writes little-endian fields, keeping the first error and a count.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(b)
	e.n += int64(k)
}

func (e *encoder) zeros(n int64) { e.bytes(make([]byte, n)) }

func (e *encoder) u32(x uint32) { e.bytes(binary.LittleEndian.AppendUint32(nil, x)) }

func (e *encoder) u64(x uint64) { e.bytes(binary.LittleEndian.AppendUint64(nil, x)) }

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *encoder) scalar(x any) {
	switch x := x.(type) {
	case uint8:
		e.bytes([]byte{x})
	case int8:
		e.bytes([]byte{byte(x)})
	case bool:
		if x {
			e.bytes([]byte{1})
		} else {
			e.bytes([]byte{0})
		}
	case uint16:
		e.bytes(binary.LittleEndian.AppendUint16(nil, x))
	case int16:
		e.bytes(binary.LittleEndian.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	}
}

func (e *encoder) value(v Value) {
	if v.typ != Array {
		e.scalar(v.x)
		return
	}
	e.u32(uint32(v.elem))
	e.u64(uint64(v.Len()))
	switch xs := v.x.(type) {
	case []uint8:
		e.bytes(xs)
	case []Value:
		// An element of an array of arrays is its own element type,
		// length and items, with no value type before it.
		for _, x := range xs {
			e.value(x)
		}
	default:
		forEach(xs, e.scalar)
	}
}

// forEach calls fn on each element of a slice of scalars.
func forEach(xs any, fn func(any)) {
	switch xs := xs.(type) {
	case []int8:
		eachOf(xs, fn)
	case []uint16:
		eachOf(xs, fn)
	case []int16:
		eachOf(xs, fn)
	case []uint32:
		eachOf(xs, fn)
	case []int32:
		eachOf(xs, fn)
	case []float32:
		eachOf(xs, fn)
	case []bool:
		eachOf(xs, fn)
	case []string:
		eachOf(xs, fn)
	case []uint64:
		eachOf(xs, fn)
	case []int64:
		eachOf(xs, fn)
	case []float64:
		eachOf(xs, fn)
	}
}

func eachOf[T any](xs []T, fn func(any)) {
	for _, x := range xs {
		fn(x)
	}
}
