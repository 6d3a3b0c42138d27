package gguf

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/loftml/loft/tensor"
)

// f16 values used in the hand-built blocks.
const (
	h1    = 0x3c00 // 1.0
	hHalf = 0x3800 // 0.5
	h2    = 0x4000 // 2.0
	hM2   = 0xc000 // -2.0
)

func put16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

func dequant(t *testing.T, typ Type, block []byte) []float32 {
	t.Helper()
	y := make([]float32, typ.BlockSize())
	if err := Dequantize(typ, block, y); err != nil {
		t.Fatal(err)
	}
	return y
}

// Hand-built blocks: bytes chosen by hand, expected values worked out by hand
// from the block layout and written out literally, so a wrong nibble order,
// bit position or scale packing fails.

func TestQ8_0HandBlock(t *testing.T) {
	b := make([]byte, 34)
	put16(b, hHalf)
	for i := 0; i < 32; i++ {
		b[2+i] = byte(int8(i - 16)) // qs = -16..15
	}
	want := []float32{-8, -7.5, -7, -6.5, -6, -5.5, -5, -4.5, -4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5,
		0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5}
	if got := dequant(t, Q8_0, b); !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestQ4_0HandBlock(t *testing.T) {
	b := make([]byte, 18)
	put16(b, h2)
	for j := 0; j < 16; j++ {
		b[2+j] = byte(j | (15-j)<<4) // low nibble j, high nibble 15-j
	}
	// y[j] = 2*(j-8), y[j+16] = 2*(15-j-8).
	want := []float32{-16, -14, -12, -10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10, 12, 14,
		14, 12, 10, 8, 6, 4, 2, 0, -2, -4, -6, -8, -10, -12, -14, -16}
	if got := dequant(t, Q4_0, b); !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestQ4_1HandBlock(t *testing.T) {
	b := make([]byte, 20)
	put16(b, h1)
	put16(b[2:], hM2)
	for j := 0; j < 16; j++ {
		b[4+j] = byte((15 - j) | j<<4)
	}
	// y[j] = (15-j) - 2, y[j+16] = j - 2.
	want := []float32{13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2,
		-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	if got := dequant(t, Q4_1, b); !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// qh bytes FF 00 0F F0 (uint32 0xF00F00FF): the fifth bit is set for
// elements 0-7, 16-19 and 28-31.
var q5qh = []byte{0xff, 0x00, 0x0f, 0xf0}

func TestQ5_0HandBlock(t *testing.T) {
	b := make([]byte, 22)
	put16(b, hHalf)
	copy(b[2:], q5qh)
	for j := 0; j < 16; j++ {
		b[6+j] = byte(j | j<<4)
	}
	// y[i] = 0.5 * ((i%16) + 16*h_i - 16).
	want := []float32{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, -4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5,
		0, 0.5, 1, 1.5, -6, -5.5, -5, -4.5, -4, -3.5, -3, -2.5, 6, 6.5, 7, 7.5}
	if got := dequant(t, Q5_0, b); !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestQ5_1HandBlock(t *testing.T) {
	b := make([]byte, 24)
	put16(b, h1)
	put16(b[2:], hHalf)
	copy(b[4:], q5qh)
	for j := 0; j < 16; j++ {
		b[8+j] = byte((15 - j) | j<<4)
	}
	// y[i<16] = (15-i) + 16*h_i + 0.5; y[16+j] = j + 16*h_{16+j} + 0.5.
	want := []float32{31.5, 30.5, 29.5, 28.5, 27.5, 26.5, 25.5, 24.5, 7.5, 6.5, 5.5, 4.5, 3.5, 2.5, 1.5, 0.5,
		16.5, 17.5, 18.5, 19.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 28.5, 29.5, 30.5, 31.5}
	if got := dequant(t, Q5_1, b); !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// kScales packs the 6-bit scales {1, 2, 3, 4, 17, 33, 49, 63} and mins
// {0, 5, 10, 15, 20, 40, 60, 1} of Q4_K/Q5_K by hand: bytes 0-3 are
// scale j | (scale j+4 >> 4) << 6, bytes 4-7 min j | (min j+4 >> 4) << 6,
// bytes 8-11 (scale j+4 & 15) | (min j+4 & 15) << 4.
var kScales = []byte{0x41, 0x82, 0xc3, 0xc4, 0x40, 0x85, 0xca, 0x0f, 0x41, 0x81, 0xc1, 0x1f}

func TestScaleMinK4(t *testing.T) {
	wantSc := []uint8{1, 2, 3, 4, 17, 33, 49, 63}
	wantM := []uint8{0, 5, 10, 15, 20, 40, 60, 1}
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, kScales)
		if sc != wantSc[j] || m != wantM[j] {
			t.Errorf("sub-block %d: scale %d min %d, want %d %d", j, sc, m, wantSc[j], wantM[j])
		}
	}
}

func TestQ4_KHandBlock(t *testing.T) {
	b := make([]byte, 144)
	put16(b, h1)        // d
	put16(b[2:], hHalf) // dmin
	copy(b[4:], kScales)
	for i := 0; i < 128; i++ {
		b[16+i] = byte(i) // low nibble i&15, high nibble i>>4
	}
	// Element 64c+l: q = l&15, sub-block 2c; element 64c+32+l:
	// q = 2c + l/16, sub-block 2c+1; y = sc*q - 0.5*m.
	want := map[int]float32{
		0: 0, 5: 5, 31: 15, 32: -2.5, 50: -0.5, 64: -5, 79: 40, 96: 0.5, 127: 4.5,
		128: -10, 137: 143, 160: 112, 191: 145, 192: -30, 207: 705, 224: 377.5, 255: 440.5,
	}
	got := dequant(t, Q4_K, b)
	for i, w := range want {
		if got[i] != w {
			t.Errorf("y[%d] = %g, want %g", i, got[i], w)
		}
	}
}

func TestQ5_KHandBlock(t *testing.T) {
	b := make([]byte, 176)
	put16(b, h1)
	put16(b[2:], hHalf)
	copy(b[4:], kScales)
	for l := 0; l < 32; l++ {
		if l%2 == 0 {
			b[16+l] = 0x55 // fifth bit for the even sub-blocks
		} else {
			b[16+l] = 0xaa // and for the odd ones
		}
	}
	for i := 0; i < 128; i++ {
		b[48+i] = byte(i)
	}
	// As Q4_K with q += 16 when bit 2c (element 64c+l) or bit 2c+1
	// (element 64c+32+l) of qh[l] is set: even l for even sub-blocks, odd l
	// for odd ones.
	want := map[int]float32{
		0: 16, 5: 5, 30: 30, 31: 15, 32: -2.5, 33: 29.5, 64: 43, 79: 40, 97: 64.5,
		128: 262, 137: 143, 161: 640, 192: 754, 254: 440.5, 255: 1448.5,
	}
	got := dequant(t, Q5_K, b)
	for i, w := range want {
		if got[i] != w {
			t.Errorf("y[%d] = %g, want %g", i, got[i], w)
		}
	}
}

func TestQ6_KHandBlock(t *testing.T) {
	b := make([]byte, 210)
	for i := 0; i < 128; i++ {
		b[i] = byte(i) // ql
	}
	for i := 0; i < 64; i++ {
		b[128+i] = byte(255 - i) // qh
	}
	for k := 0; k < 16; k++ {
		s := k + 1
		if k%2 == 1 {
			s = -s
		}
		b[192+k] = byte(int8(s)) // scales 1, -2, 3, -4, ..., -16
	}
	put16(b[208:], hHalf)
	// Element e, half n = e/128, r = e%128, k = r/32, l = r%32: low 4 bits
	// from ql[64n+l] (k even) or ql[64n+l+32] (k odd), low nibble for k < 2;
	// top 2 bits = qh[32n+l] >> 2k; y = 0.5 * scales[e/16] * (q - 32).
	want := map[int]float32{
		0: 8, 17: -1, 40: -12, 50: -36, 75: 40, 100: 63, 127: -76,
		128: 72, 150: 50, 200: -78, 233: 165, 255: -184,
	}
	got := dequant(t, Q6_K, b)
	for i, w := range want {
		if got[i] != w {
			t.Errorf("y[%d] = %g, want %g", i, got[i], w)
		}
	}
}

func TestDequantizeErrors(t *testing.T) {
	y := make([]float32, 32)
	if err := Dequantize(Q8_0, make([]byte, 33), y); err == nil {
		t.Error("short Q8_0 data accepted")
	}
	if err := Dequantize(Q4_K, make([]byte, 144), y); err == nil {
		t.Error("32 elements of Q4_K accepted")
	}
	if err := Dequantize(Q2_K, make([]byte, 84), make([]float32, 256)); err == nil {
		t.Error("Q2_K claimed supported")
	}
	if err := Dequantize(Type(99), nil, nil); err == nil {
		t.Error("unknown type accepted")
	}
}

// Reference quantisers, written from the format descriptions (type-0:
// x = d*q; type-1: x = d*q + m; K-quants: super-blocks of 256 whose
// sub-block scales (and mins) are themselves quantised against an f16
// super-scale). Each rounds to nearest with the f16-rounded scale, so the
// dequantised value is within half a step of the input, plus the scale
// quantisation error for K-quants as noted in roundTrip's callers.

func r16(x float32) (uint16, float32) {
	h := tensor.F32ToF16(x)
	return h, tensor.F16ToF32(h)
}

func clampRound(x float32, lo, hi int) int {
	q := int(math.Round(float64(x)))
	return min(max(q, lo), hi)
}

func absMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

func minMax(x []float32) (float32, float32) {
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// quantQ4_0 returns one block and the bound on |x - y| for each element.
func quantQ4_0(x []float32) ([]byte, []float32) {
	b := make([]byte, 18)
	h, d := r16(absMax(x) / 7)
	put16(b, h)
	for j := 0; j < 16; j++ {
		q0 := clampRound(x[j]*inv(d), -8, 7) + 8
		q1 := clampRound(x[j+16]*inv(d), -8, 7) + 8
		b[2+j] = byte(q0 | q1<<4)
	}
	return b, fill(32, d/2)
}

func quantQ4_1(x []float32) ([]byte, []float32) {
	b := make([]byte, 20)
	lo, hi := minMax(x)
	hd, d := r16((hi - lo) / 15)
	hm, m := r16(lo)
	put16(b, hd)
	put16(b[2:], hm)
	for j := 0; j < 16; j++ {
		q0 := clampRound((x[j]-m)*inv(d), 0, 15)
		q1 := clampRound((x[j+16]-m)*inv(d), 0, 15)
		b[4+j] = byte(q0 | q1<<4)
	}
	// |m - lo| <= ulp of f16 clamps at the bottom.
	return b, fill(32, d/2+float32(math.Abs(float64(m-lo))))
}

func quantQ5_0(x []float32) ([]byte, []float32) {
	b := make([]byte, 22)
	h, d := r16(absMax(x) / 15)
	put16(b, h)
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := clampRound(x[j]*inv(d), -16, 15) + 16
		q1 := clampRound(x[j+16]*inv(d), -16, 15) + 16
		b[6+j] = byte(q0&15 | (q1&15)<<4)
		qh |= uint32(q0>>4) << j
		qh |= uint32(q1>>4) << (j + 16)
	}
	binary.LittleEndian.PutUint32(b[2:], qh)
	return b, fill(32, d/2)
}

func quantQ5_1(x []float32) ([]byte, []float32) {
	b := make([]byte, 24)
	lo, hi := minMax(x)
	hd, d := r16((hi - lo) / 31)
	hm, m := r16(lo)
	put16(b, hd)
	put16(b[2:], hm)
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := clampRound((x[j]-m)*inv(d), 0, 31)
		q1 := clampRound((x[j+16]-m)*inv(d), 0, 31)
		b[8+j] = byte(q0&15 | (q1&15)<<4)
		qh |= uint32(q0>>4) << j
		qh |= uint32(q1>>4) << (j + 16)
	}
	binary.LittleEndian.PutUint32(b[4:], qh)
	return b, fill(32, d/2+float32(math.Abs(float64(m-lo))))
}

func quantQ8_0(x []float32) ([]byte, []float32) {
	b := make([]byte, 34)
	h, d := r16(absMax(x) / 127)
	put16(b, h)
	for j := 0; j < 32; j++ {
		b[2+j] = byte(int8(clampRound(x[j]*inv(d), -127, 127)))
	}
	return b, fill(32, d/2)
}

// packScalesK4 packs 8 six-bit scales and mins into Q4_K/Q5_K's 12 bytes.
func packScalesK4(sc, m []int) []byte {
	q := make([]byte, 12)
	for j := 0; j < 4; j++ {
		q[j] = byte(sc[j]) | byte(sc[j+4]>>4)<<6
		q[j+4] = byte(m[j]) | byte(m[j+4]>>4)<<6
		q[j+8] = byte(sc[j+4]&15) | byte(m[j+4]&15)<<4
	}
	return q
}

// kSubScales quantises the 8 sub-blocks of 32 of x as type-1 with nmax
// levels: per sub-block scale (max - min')/nmax with min' = min(min, 0), the
// scales and -min' quantised to 6 bits against f16 d and dmin. It returns
// the header (d, dmin, 12 scale bytes), the effective scale and offset of
// each sub-block, and the bound: within the covered range the error is half
// a step; the 6-bit rounding of a scale can shrink the top of the range by
// nmax*d/2 and of a min shift it by dmin/2.
func kSubScales(x []float32, nmax int) (hdr []byte, s, o []float32, bound []float32) {
	var scale, mins [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		lo, hi := minMax(x[32*j : 32*j+32])
		lo = min(lo, 0)
		scale[j] = (hi - lo) / float32(nmax)
		mins[j] = -lo
		maxScale, maxMin = max(maxScale, scale[j]), max(maxMin, mins[j])
	}
	hd, d := r16(maxScale / 63)
	hm, dmin := r16(maxMin / 63)
	sc, m := make([]int, 8), make([]int, 8)
	s, o = make([]float32, 8), make([]float32, 8)
	bound = make([]float32, 256)
	for j := 0; j < 8; j++ {
		sc[j] = clampRound(scale[j]*inv(d), 0, 63)
		m[j] = clampRound(mins[j]*inv(dmin), 0, 63)
		s[j], o[j] = d*float32(sc[j]), dmin*float32(m[j])
		for i := 32 * j; i < 32*j+32; i++ {
			bound[i] = s[j]/2 + float32(nmax)*d/2 + dmin/2 + 1e-6*maxScale
		}
	}
	hdr = make([]byte, 16)
	put16(hdr, hd)
	put16(hdr[2:], hm)
	copy(hdr[4:], packScalesK4(sc, m))
	return hdr, s, o, bound
}

func quantQ4_K(x []float32) ([]byte, []float32) {
	hdr, s, o, bound := kSubScales(x, 15)
	b := append(hdr, make([]byte, 128)...)
	q := func(i int) int { return clampRound((x[i]+o[i/32])*inv(s[i/32]), 0, 15) }
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			b[16+32*c+l] = byte(q(64*c+l) | q(64*c+32+l)<<4)
		}
	}
	return b, bound
}

func quantQ5_K(x []float32) ([]byte, []float32) {
	hdr, s, o, bound := kSubScales(x, 31)
	b := append(hdr, make([]byte, 32+128)...)
	q := func(i int) int { return clampRound((x[i]+o[i/32])*inv(s[i/32]), 0, 31) }
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			q0, q1 := q(64*c+l), q(64*c+32+l)
			b[48+32*c+l] = byte(q0&15 | (q1&15)<<4)
			b[16+l] |= byte(q0>>4)<<(2*c) | byte(q1>>4)<<(2*c+1)
		}
	}
	return b, bound
}

// quantQ6_K: type-0 over 16 sub-blocks of 16, q in [-32, 31] stored +32 as
// 4 low bits in ql and 2 high bits in qh, int8 scales against an f16 d.
// Scales use 31 levels so both signs fit; rounding a scale to an integer
// can shrink the covered range by 31*d/2.
func quantQ6_K(x []float32) ([]byte, []float32) {
	b := make([]byte, 210)
	var scale [16]float32
	var maxScale float32
	for j := 0; j < 16; j++ {
		scale[j] = absMax(x[16*j:16*j+16]) / 31
		maxScale = max(maxScale, scale[j])
	}
	hd, d := r16(maxScale / 127)
	put16(b[208:], hd)
	s := make([]float32, 16)
	bound := make([]float32, 256)
	for j := 0; j < 16; j++ {
		sc := clampRound(scale[j]*inv(d), -128, 127)
		b[192+j] = byte(int8(sc))
		s[j] = d * float32(sc)
		for i := 16 * j; i < 16*j+16; i++ {
			bound[i] = s[j]/2 + 31*d/2 + 1e-6*maxScale
		}
	}
	for e := 0; e < 256; e++ {
		q := clampRound(x[e]*inv(s[e/16]), -32, 31) + 32
		n, r := e/128, e%128
		k, l := r/32, r%32
		li := 64*n + l + 32*(k%2) // ql byte
		if k < 2 {
			b[li] |= byte(q & 15)
		} else {
			b[li] |= byte(q&15) << 4
		}
		b[128+32*n+l] |= byte(q>>4) << (2 * k)
	}
	return b, bound
}

func fill(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestQuantRoundTrip quantises random data with each reference quantiser
// and checks the package's dequantiser returns every value within the
// format's error bound. Distributions: normal, shifted (all positive) and
// with outliers, so scales, mins and the clamping paths are all exercised.
func TestQuantRoundTrip(t *testing.T) {
	quants := []struct {
		typ   Type
		quant func([]float32) ([]byte, []float32)
	}{
		{Q4_0, quantQ4_0}, {Q4_1, quantQ4_1}, {Q5_0, quantQ5_0}, {Q5_1, quantQ5_1},
		{Q8_0, quantQ8_0}, {Q4_K, quantQ4_K}, {Q5_K, quantQ5_K}, {Q6_K, quantQ6_K},
	}
	gens := map[string]func(r *rand.Rand) float32{
		"normal":   func(r *rand.Rand) float32 { return float32(r.NormFloat64()) },
		"shifted":  func(r *rand.Rand) float32 { return 3 + float32(r.Float64()) },
		"outliers": func(r *rand.Rand) float32 { return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(3)))) },
	}
	for _, q := range quants {
		for gname, gen := range gens {
			t.Run(q.typ.String()+"/"+gname, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(q.typ), 7))
				n := 4 * 256
				bs := q.typ.BlockSize()
				x := make([]float32, n)
				for i := range x {
					x[i] = gen(r)
				}
				var data []byte
				var bound []float32
				for b := 0; b < n; b += bs {
					blk, bd := q.quant(x[b : b+bs])
					if len(blk) != q.typ.TypeSize() {
						t.Fatalf("reference quantiser made %d bytes, type size %d", len(blk), q.typ.TypeSize())
					}
					data = append(data, blk...)
					bound = append(bound, bd...)
				}
				y := make([]float32, n)
				if err := Dequantize(q.typ, data, y); err != nil {
					t.Fatal(err)
				}
				var worst, rms float64
				for i := range x {
					e := math.Abs(float64(x[i] - y[i]))
					if e > float64(bound[i]) {
						t.Fatalf("x[%d] = %g dequantised to %g: error %g over the bound %g", i, x[i], y[i], e, bound[i])
					}
					worst = max(worst, e/float64(bound[i]))
					rms += e * e
				}
				t.Logf("rms error %.3g, worst %.2f of the bound", math.Sqrt(rms/float64(n)), worst)
			})
		}
	}
}

// TestQuantizeQ8_0 checks the writer's Q8_0 quantiser against the reference
// one above: ggml rounds halves away from zero with d = max|x|/127.
func TestQuantizeQ8_0(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 96)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	got, err := QuantizeQ8_0(x)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for b := 0; b < len(x); b += 32 {
		blk, _ := quantQ8_0(x[b : b+32])
		want = append(want, blk...)
	}
	// Scales agree exactly; a quant may differ by one where x/d falls on
	// a rounding boundary of the two slightly different divisors.
	for i := range got {
		if i%34 < 2 {
			if got[i] != want[i] {
				t.Fatalf("scale byte %d: %#x vs reference %#x", i, got[i], want[i])
			}
			continue
		}
		if dq := int(int8(got[i])) - int(int8(want[i])); dq < -1 || dq > 1 {
			t.Fatalf("quant byte %d: %d vs reference %d", i, int8(got[i]), int8(want[i]))
		}
	}
	if _, err := QuantizeQ8_0(make([]float32, 31)); err == nil {
		t.Error("31 values accepted")
	}
	zero, _ := QuantizeQ8_0(make([]float32, 32))
	y := make([]float32, 32)
	Dequantize(Q8_0, zero, y)
	if !slices.Equal(y, make([]float32, 32)) {
		t.Errorf("zeros came back as %v", y)
	}
}
