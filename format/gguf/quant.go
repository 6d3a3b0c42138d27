package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/loftml/loft/tensor"
)

// EncodeF32 returns v as little-endian F32 tensor data.
func EncodeF32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// EncodeF16 returns v as F16 tensor data, rounded to nearest even.
func EncodeF16(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToF16(x))
	}
	return b
}

// EncodeBF16 returns v as BF16 tensor data, rounded to nearest even.
func EncodeBF16(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToBF16(x))
	}
	return b
}

// QuantizeQ8_0 returns v as Q8_0 blocks; len(v) must be a multiple of 32.
// As ggml's quantize_row_q8_0_ref: per block d = max|x|/127, q = round(x/d)
// (halves away from zero), d stored as f16.
func QuantizeQ8_0(v []float32) ([]byte, error) {
	if len(v)%32 != 0 {
		return nil, fmt.Errorf("Q8_0 needs a multiple of 32 values, got %d", len(v))
	}
	out := make([]byte, len(v)/32*34)
	for i := 0; i < len(v)/32; i++ {
		x := v[32*i : 32*i+32]
		b := out[34*i : 34*i+34]
		var amax float32
		for _, e := range x {
			amax = max(amax, float32(math.Abs(float64(e))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(b, tensor.F32ToF16(d))
		for j, e := range x {
			b[2+j] = byte(int8(math.Round(float64(e * id))))
		}
	}
	return out, nil
}
