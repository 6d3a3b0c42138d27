package tensor

import "math"

// The codecs below follow IEEE 754-2008 binary16 (1 sign, 5 exponent, 10
// mantissa bits, bias 15) and bfloat16, which is the top half of a binary32
// (1 sign, 8 exponent, 7 mantissa bits). Conversions to the narrow formats
// round to nearest, ties to even, as PyTorch's .to(torch.float16/bfloat16).

// F16ToF32 widens a binary16 bit pattern exactly, subnormals, infinities
// and NaN payloads included.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload in the top mantissa bits
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: mant·2^-24, exact in binary32 (mant < 2^10). A multiply
	// instead of a normalising loop keeps the function cheap enough to
	// inline into the dequantisation loops.
	return math.Float32frombits(sign | math.Float32bits(float32(mant)*(1.0/(1<<24))))
}

// F32ToF16 narrows f to binary16, rounding to nearest even. Values past the
// largest finite f16 (65504, after rounding) become infinities, tiny ones
// become subnormals or signed zero, and NaN stays NaN (quiet, with the top
// payload bits kept).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7c00 | 0x200 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is subnormal (or rounds up to the smallest normal). The
		// 24-bit significand is in units of 2^(e-38); f16 subnormals are in
		// units of 2^-24, so shift right by 14-e.
		if e < -10 {
			return sign // below half the smallest subnormal: zero
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++ // may carry into the exponent: 0x400 is the smallest normal
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // a carry into the exponent is correct, up to infinity
	}
	return sign | uint16(h)
}

// BF16ToF32 widens a bfloat16 bit pattern; this is exact.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 narrows f to bfloat16, rounding to nearest even; NaN stays a
// (quiet) NaN with its sign and top payload bits.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16SliceToF32 widens src into dst; dst (n), src (n), n = len(src).
// It panics if dst is shorter than src.
func F16SliceToF32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = F16ToF32(h)
	}
}

// F32SliceToF16 narrows src into dst; dst (n), src (n), n = len(src).
// It panics if dst is shorter than src.
func F32SliceToF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = F32ToF16(f)
	}
}

// BF16SliceToF32 widens src into dst; dst (n), src (n), n = len(src).
// It panics if dst is shorter than src.
func BF16SliceToF32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

// F32SliceToBF16 narrows src into dst; dst (n), src (n), n = len(src).
// It panics if dst is shorter than src.
func F32SliceToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = F32ToBF16(f)
	}
}
