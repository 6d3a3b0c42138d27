package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/loftml/loft/tensor"
)

// Dequantize decodes len(dst) elements of type t from src into dst.
// len(dst) must be a multiple of t's block size and src exactly the bytes of
// that many elements. Supported: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
//
// The block layouts are ggml's (ggml-common.h); each decoder below states
// its layout. f16 scales are widened exactly and each value is computed in
// the order of ggml's reference dequantize_row_* (conversions to float32
// keep the compiler from fusing a multiply-add), so results match it.
func Dequantize(t Type, src []byte, dst []float32) error {
	info, ok := typeInfos[t]
	if !ok {
		return fmt.Errorf("cannot dequantise unknown ggml type %s", t)
	}
	if len(dst)%info.blockSize != 0 {
		return fmt.Errorf("%d elements are not a multiple of the %s block size %d", len(dst), t, info.blockSize)
	}
	nb := len(dst) / info.blockSize
	if len(src) != nb*info.typeSize {
		return fmt.Errorf("%d elements of %s need %d bytes, got %d", len(dst), t, nb*info.typeSize, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = tensor.BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case Q4_0:
		forBlocks(src, dst, info, dequantQ4_0)
	case Q4_1:
		forBlocks(src, dst, info, dequantQ4_1)
	case Q5_0:
		forBlocks(src, dst, info, dequantQ5_0)
	case Q5_1:
		forBlocks(src, dst, info, dequantQ5_1)
	case Q8_0:
		forBlocks(src, dst, info, dequantQ8_0)
	case Q4_K:
		forBlocks(src, dst, info, dequantQ4K)
	case Q5_K:
		forBlocks(src, dst, info, dequantQ5K)
	case Q6_K:
		forBlocks(src, dst, info, dequantQ6K)
	default:
		return fmt.Errorf("dequantising %s is not supported", t)
	}
	return nil
}

// forBlocks calls fn on each (block bytes, block outputs) pair.
func forBlocks(src []byte, dst []float32, info typeInfo, fn func(b []byte, y []float32)) {
	for i := 0; i < len(dst)/info.blockSize; i++ {
		fn(src[i*info.typeSize:(i+1)*info.typeSize], dst[i*info.blockSize:(i+1)*info.blockSize])
	}
}

func f16(b []byte) float32 { return tensor.F16ToF32(binary.LittleEndian.Uint16(b)) }

// dequantQ4_0: block_q4_0 {f16 d; u8 qs[16]}. Byte j holds element j in its
// low nibble and element j+16 in its high nibble; y = d * (q - 8).
func dequantQ4_0(b []byte, y []float32) {
	d := f16(b)
	qs := b[2:18]
	for j := 0; j < 16; j++ {
		y[j] = float32(int(qs[j]&0x0f)-8) * d
		y[j+16] = float32(int(qs[j]>>4)-8) * d
	}
}

// dequantQ4_1: block_q4_1 {f16 d; f16 m; u8 qs[16]}, nibbles as Q4_0;
// y = d*q + m.
func dequantQ4_1(b []byte, y []float32) {
	d, m := f16(b), f16(b[2:])
	qs := b[4:20]
	for j := 0; j < 16; j++ {
		y[j] = float32(float32(qs[j]&0x0f)*d) + m
		y[j+16] = float32(float32(qs[j]>>4)*d) + m
	}
}

// dequantQ5_0: block_q5_0 {f16 d; u8 qh[4]; u8 qs[16]}. Nibbles as Q4_0;
// bit i of the little-endian uint32 qh is the fifth bit of element i;
// y = d * (q - 16).
func dequantQ5_0(b []byte, y []float32) {
	d := f16(b)
	qh := binary.LittleEndian.Uint32(b[2:])
	qs := b[6:22]
	for j := 0; j < 16; j++ {
		h0 := int(qh>>j) & 1
		h1 := int(qh>>(j+16)) & 1
		y[j] = float32(int(qs[j]&0x0f)|h0<<4-16) * d
		y[j+16] = float32(int(qs[j]>>4)|h1<<4-16) * d
	}
}

// dequantQ5_1: block_q5_1 {f16 d; f16 m; u8 qh[4]; u8 qs[16]}, bits as
// Q5_0; y = d*q + m.
func dequantQ5_1(b []byte, y []float32) {
	d, m := f16(b), f16(b[2:])
	qh := binary.LittleEndian.Uint32(b[4:])
	qs := b[8:24]
	for j := 0; j < 16; j++ {
		h0 := int(qh>>j) & 1
		h1 := int(qh>>(j+16)) & 1
		y[j] = float32(float32(int(qs[j]&0x0f)|h0<<4)*d) + m
		y[j+16] = float32(float32(int(qs[j]>>4)|h1<<4)*d) + m
	}
}

// dequantQ8_0: block_q8_0 {f16 d; i8 qs[32]}; y = d * q.
func dequantQ8_0(b []byte, y []float32) {
	d := f16(b)
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(b[2+j])) * d
	}
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the
// 12 scale bytes of Q4_K/Q5_K: bytes 0-3 hold scales 0-3 and bytes 4-7 mins
// 0-3 in their low 6 bits; bytes 8-11 hold the low 4 bits of scale j+4
// (low nibble) and min j+4 (high nibble), whose top 2 bits are the top bits
// of bytes j and j+4 respectively.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	sc = q[j+4]&0x0f | (q[j-4]>>6)<<4
	m = q[j+4]>>4 | (q[j]>>6)<<4
	return sc, m
}

// dequantQ4K: block_q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}, 8
// sub-blocks of 32. Each 64 elements share 32 qs bytes: the low nibbles are
// sub-block 2c, the high nibbles sub-block 2c+1; y = d*sc*q - dmin*m.
func dequantQ4K(b []byte, y []float32) {
	d, dmin := f16(b), f16(b[2:])
	scales := b[4:16]
	qs := b[16:144]
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, o1 := d*float32(sc1), dmin*float32(m1)
		d2, o2 := d*float32(sc2), dmin*float32(m2)
		q := qs[32*c : 32*c+32]
		out := y[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			out[l] = float32(d1*float32(q[l]&0x0f)) - o1
			out[l+32] = float32(d2*float32(q[l]>>4)) - o2
		}
	}
}

// dequantQ5K: block_q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32];
// u8 qs[128]}: Q4_K plus a fifth bit; bit 2c of qh[l] belongs to element
// 64c+l and bit 2c+1 to element 64c+32+l; y = d*sc*q - dmin*m.
func dequantQ5K(b []byte, y []float32) {
	d, dmin := f16(b), f16(b[2:])
	scales := b[4:16]
	qh := b[16:48]
	qs := b[48:176]
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, o1 := d*float32(sc1), dmin*float32(m1)
		d2, o2 := d*float32(sc2), dmin*float32(m2)
		q := qs[32*c : 32*c+32]
		out := y[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			h1 := (qh[l] >> (2 * c)) & 1
			h2 := (qh[l] >> (2*c + 1)) & 1
			out[l] = float32(d1*float32(q[l]&0x0f|h1<<4)) - o1
			out[l+32] = float32(d2*float32(q[l]>>4|h2<<4)) - o2
		}
	}
}

// dequantQ6K: block_q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}, 16
// sub-blocks of 16, element e scaled by scales[e/16]. Each half of 128
// elements uses 64 ql and 32 qh bytes: for l < 32, elements l, l+32, l+64,
// l+96 take the low nibble of ql[l], ql[l+32], then the high nibbles, and
// bits 0-1, 2-3, 4-5, 6-7 of qh[l] as their top two bits; y = d*sc*(q-32).
func dequantQ6K(b []byte, y []float32) {
	ql := b[0:128]
	qh := b[128:192]
	sc := b[192:208]
	d := f16(b[208:])
	for n := 0; n < 2; n++ {
		l4 := ql[64*n : 64*n+64]
		h := qh[32*n : 32*n+32]
		s := sc[8*n : 8*n+8]
		out := y[128*n : 128*n+128]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(l4[l]&0x0f|(h[l]>>0&3)<<4) - 32
			q2 := int(l4[l+32]&0x0f|(h[l]>>2&3)<<4) - 32
			q3 := int(l4[l]>>4|(h[l]>>4&3)<<4) - 32
			q4 := int(l4[l+32]>>4|(h[l]>>6&3)<<4) - 32
			out[l] = d * float32(int8(s[is])) * float32(q1)
			out[l+32] = d * float32(int8(s[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(s[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(s[is+6])) * float32(q4)
		}
	}
}
