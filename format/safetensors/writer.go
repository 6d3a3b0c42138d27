package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/loftml/loft/internal/fileio"
	"github.com/loftml/loft/tensor"
)

// Tensor is a named tensor to write: raw little-endian bytes of a dtype, or
// float32 values encoded to the dtype while writing.
type Tensor struct {
	Name  string
	DType DType
	Shape []int  // row-major
	Data  []byte // len = numel * DType.Size()
	// Values is used when Data is nil: numel values encoded to DType (F32,
	// F16 or BF16) chunk by chunk as the file is written, so a large
	// float32 model is saved without a second copy in memory.
	Values []float32
}

// byteSize returns the bytes t occupies in the file.
func (t Tensor) byteSize() int {
	if t.Data == nil && t.Values != nil {
		return len(t.Values) * t.DType.Size()
	}
	return len(t.Data)
}

// writeData writes t's bytes, encoding Values in chunks when Data is nil.
func (t Tensor) writeData(w *bufio.Writer) error {
	if t.Data != nil || t.Values == nil {
		_, err := w.Write(t.Data)
		return err
	}
	const chunk = 1 << 14
	for i := 0; i < len(t.Values); i += chunk {
		v := t.Values[i:min(i+chunk, len(t.Values))]
		if _, err := w.Write(encodeFloat32(t.DType, v)); err != nil {
			return err
		}
	}
	return nil
}

// FromFloat32 encodes v (numel(shape) values, row-major) as dtype dt, which
// must be F32, F16 or BF16 (narrowing rounds to nearest even).
func FromFloat32(name string, dt DType, shape []int, v []float32) (Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, shape)
		}
		n *= d
	}
	if n != len(v) {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, got %d", name, shape, n, len(v))
	}
	b := encodeFloat32(dt, v)
	if b == nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: FromFloat32 writes F32, F16 or BF16, not %s", name, dt)
	}
	return Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...), Data: b}, nil
}

// encodeFloat32 returns v encoded as dt (F32, F16 or BF16), or nil for
// another dtype.
func encodeFloat32(dt DType, v []float32) []byte {
	switch dt {
	case F32:
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	case F16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToF16(x))
		}
		return b
	case BF16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToBF16(x))
		}
		return b
	}
	return nil
}

// Write writes tensors and metadata (e.g. {"format": "pt"}) to path as one
// safetensors file, atomically (temporary file, then rename).
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	header, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return fileio.WriteAtomic(path, func(w *bufio.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
		w.Write(n[:])
		w.Write(header)
		for _, i := range order {
			if err := tensors[i].writeData(w); err != nil {
				return fmt.Errorf("safetensors %s: %w", path, err)
			}
		}
		return nil
	})
}

// encodeHeader validates the tensors and builds the header JSON, padded with
// spaces to a multiple of 8 bytes so the data area starts 8-aligned. The
// data is laid out by decreasing element size, then name, which keeps every
// tensor aligned to its element size; the header lists names sorted. order
// is the data layout as indices into tensors.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, []int, error) {
	seen := map[string]bool{}
	for _, t := range tensors {
		if t.Name == "" || t.Name == metadataKey {
			return nil, nil, fmt.Errorf("invalid tensor name %q", t.Name)
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		size := t.DType.Size()
		if size == 0 {
			return nil, nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if t.Data == nil && t.Values != nil {
			if t.DType != F32 && t.DType != F16 && t.DType != BF16 {
				return nil, nil, fmt.Errorf("tensor %q: Values are written as F32, F16 or BF16, not %s", t.Name, t.DType)
			}
			if len(t.Values) != n {
				return nil, nil, fmt.Errorf("tensor %q: shape %v holds %d values, has %d", t.Name, t.Shape, n, len(t.Values))
			}
		} else if n*size != len(t.Data) {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, n*size, len(t.Data))
		}
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ta, tb := tensors[order[a]], tensors[order[b]]
		if sa, sb := ta.DType.Size(), tb.DType.Size(); sa != sb {
			return sa > sb
		}
		return ta.Name < tb.Name
	})
	begin := make([]int64, len(tensors))
	var off int64
	for _, i := range order {
		begin[i] = off
		off += int64(tensors[i].byteSize())
	}
	byName := make([]int, len(tensors))
	copy(byName, order)
	sort.Slice(byName, func(a, b int) bool { return tensors[byName[a]].Name < tensors[byName[b]].Name })

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		md, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return nil, nil, err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(md)
	}
	for k, i := range byName {
		t := tensors[i]
		if k > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		h.Write(name)
		h.WriteString(`:{"dtype":"`)
		h.WriteString(string(t.DType))
		h.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, begin[i], begin[i]+int64(t.byteSize()))
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), order, nil
}

// WriteSharded writes tensors into dir as shards of at most maxShardBytes of
// data each (a larger tensor gets a shard of its own), named
// model-00001-of-0000N.safetensors, plus model.safetensors.index.json whose
// weight_map names each tensor's shard. Tensors go to shards in name order.
// The index is written last, so a reader never sees it before its shards.
func WriteSharded(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	if maxShardBytes <= 0 {
		return fmt.Errorf("safetensors %s: maxShardBytes must be positive, got %d", dir, maxShardBytes)
	}
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].Name < sorted[b].Name })
	var shards [][]Tensor
	var cur []Tensor
	var curBytes, total int64
	for _, t := range sorted {
		if len(cur) > 0 && curBytes+int64(t.byteSize()) > maxShardBytes {
			shards = append(shards, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, t)
		curBytes += int64(t.byteSize())
		total += int64(t.byteSize())
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	weightMap := map[string]string{}
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := Write(filepath.Join(dir, name), shard, metadata); err != nil {
			return err
		}
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	index := struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]int64{"total_size": total}, weightMap}
	buf, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(filepath.Join(dir, IndexFileName), func(w *bufio.Writer) error {
		w.Write(buf)
		return w.WriteByte('\n')
	})
}
