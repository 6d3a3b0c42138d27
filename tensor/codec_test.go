package tensor

import (
	"math"
	"testing"
)

// refF16 decodes a binary16 pattern with float64 arithmetic straight from
// the IEEE 754 definition; an all-ones exponent with a zero mantissa is
// taken as 2^16 (the value infinity stands for when rounding) when
// overflowAsPow is set.
func refF16(h uint16, overflowAsPow bool) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch {
	case e == 0x1f && (m != 0 || !overflowAsPow):
		if m != 0 {
			return math.NaN()
		}
		return math.Inf(int(s))
	case e == 0:
		return s * math.Ldexp(m, -24)
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

// refBF16 does the same for bfloat16 (8 exponent bits, bias 127, 7 bits).
func refBF16(h uint16, overflowAsPow bool) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>7) & 0xff
	m := float64(h & 0x7f)
	switch {
	case e == 0xff && (m != 0 || !overflowAsPow):
		if m != 0 {
			return math.NaN()
		}
		return math.Inf(int(s))
	case e == 0:
		return s * math.Ldexp(m, -133)
	}
	return s * math.Ldexp(1+m/128, e-127)
}

func TestF16ToF32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := F16ToF32(h)
		want := refF16(h, false)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			if back := F32ToF16(got); back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x -> %v -> %#04x is not a NaN of the same sign", h, got, back)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, got, back)
		}
	}
}

// TestF32ToF16Rounding checks every rounding boundary of binary16: the
// midpoint between each pair of neighbours goes to the even one, and one
// float32 ulp either side goes to the nearer one.
func TestF32ToF16Rounding(t *testing.T) {
	for i := 0; i < 0x7c00; i++ {
		for _, sign := range []uint16{0, 0x8000} {
			lo, hi := uint16(i)|sign, uint16(i+1)|sign
			mid := float32((refF16(lo, true) + refF16(hi, true)) / 2) // exact in float32
			even := lo
			if lo&1 == 1 {
				even = hi
			}
			if got := F32ToF16(mid); got != even {
				t.Fatalf("F32ToF16(%v) = %#04x, want %#04x (tie between %#04x and %#04x)", mid, got, even, lo, hi)
			}
			away := float32(math.Inf(1))
			if sign != 0 {
				away = -away
			}
			if got := F32ToF16(math.Nextafter32(mid, away)); got != hi {
				t.Fatalf("F32ToF16(just past %v) = %#04x, want %#04x", mid, got, hi)
			}
			if got := F32ToF16(math.Nextafter32(mid, 0)); got != lo {
				t.Fatalf("F32ToF16(just below %v) = %#04x, want %#04x", mid, got, lo)
			}
		}
	}
}

func TestBF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := BF16ToF32(h)
		want := refBF16(h, false)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || !isBF16NaN(F32ToBF16(got)) {
				t.Fatalf("bf16 NaN %#04x -> %v -> %#04x", h, got, F32ToBF16(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("BF16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := F32ToBF16(got); back != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, got, back)
		}
	}
	for i := 0; i < 0x7f80; i++ {
		for _, sign := range []uint16{0, 0x8000} {
			lo, hi := uint16(i)|sign, uint16(i+1)|sign
			mid := float32((refBF16(lo, true) + refBF16(hi, true)) / 2)
			even := lo
			if lo&1 == 1 {
				even = hi
			}
			if got := F32ToBF16(mid); got != even {
				t.Fatalf("F32ToBF16(%v) = %#04x, want %#04x", mid, got, even)
			}
			away := float32(math.Inf(1))
			if sign != 0 {
				away = -away
			}
			if got := F32ToBF16(math.Nextafter32(mid, away)); got != hi {
				t.Fatalf("F32ToBF16(just past %v) = %#04x, want %#04x", mid, got, hi)
			}
			if got := F32ToBF16(math.Nextafter32(mid, 0)); got != lo {
				t.Fatalf("F32ToBF16(just below %v) = %#04x, want %#04x", mid, got, lo)
			}
		}
	}
}

func isBF16NaN(h uint16) bool { return h&0x7f80 == 0x7f80 && h&0x7f != 0 }

func TestKnownValues(t *testing.T) {
	inf := float32(math.Inf(1))
	sub16 := float32(math.Ldexp(1, -24)) // smallest f16 subnormal
	sub32 := math.Float32frombits(1)     // smallest f32 subnormal
	cases := []struct {
		f         float32
		f16, bf16 uint16
	}{
		{1, 0x3c00, 0x3f80},
		{-2.5, 0xc100, 0xc020},
		{65504, 0x7bff, 0x477f + 1}, // 65504 = 0x477fe0 in f32: rounds up to 0x4780 (65536) in bf16
		{0.1, 0x2e66, 0x3dcd},
		{inf, 0x7c00, 0x7f80},
		{-inf, 0xfc00, 0xff80},
		{65520, 0x7c00, 0x4780}, // halfway to 2^16: ties to even, which is infinity in f16
		{sub16, 0x0001, 0x3380},
		{sub32, 0x0000, 0x0000},
		{-sub32, 0x8000, 0x8000},
		{math.Float32frombits(0x00ff_0000), 0, 0x00ff}, // an f32 subnormal exact in bf16
		{float32(math.Ldexp(1, -14)), 0x0400, 0x3880},  // smallest normal f16
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.f16 {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.f16)
		}
		if got := F32ToBF16(c.f); got != c.bf16 {
			t.Errorf("F32ToBF16(%v) = %#04x, want %#04x", c.f, got, c.bf16)
		}
	}
	for _, v := range []float32{1, -2.5, sub16, inf, -inf, 0.5, -0.0} {
		if got := BF16ToF32(F32ToBF16(v)); got != v {
			t.Errorf("bf16 round trip of %v = %v", v, got)
		}
	}
	nan := math.Float32frombits(0x7fc00001)
	if got := BF16ToF32(F32ToBF16(nan)); !math.IsNaN(float64(got)) {
		t.Errorf("bf16 round trip of NaN = %v", got)
	}
	// A signalling NaN whose payload lives only in the low bits must not
	// round into infinity.
	snan := math.Float32frombits(0xff800001)
	if got := F32ToBF16(snan); !isBF16NaN(got) || got&0x8000 == 0 {
		t.Errorf("F32ToBF16(-sNaN) = %#04x, want a negative NaN", got)
	}
	if got := F32ToF16(snan); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("F32ToF16(-sNaN) = %#04x, want a NaN", got)
	}
}

func TestSlices(t *testing.T) {
	src := []float32{1, -2.5, 3.140625, 0}
	h := make([]uint16, len(src))
	b := make([]uint16, len(src))
	F32SliceToF16(h, src)
	F32SliceToBF16(b, src)
	f := make([]float32, len(src))
	F16SliceToF32(f, h)
	for i := range src {
		if f[i] != src[i] {
			t.Errorf("f16 slice [%d] = %v, want %v", i, f[i], src[i])
		}
	}
	BF16SliceToF32(f, b)
	for i := range src {
		if f[i] != src[i] {
			t.Errorf("bf16 slice [%d] = %v, want %v", i, f[i], src[i])
		}
	}
}

// The hand-computed cases below came with format/internal/half, the
// format packages' former copy of these codecs; they pin exact bit patterns
// independently of the formula references above.
func TestF16Known(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 6.103515625e-05},        // smallest normal, 2^-14
		{0x0001, 5.9604644775390625e-08}, // smallest subnormal, 2^-24
		{0x03ff, 6.097555160522461e-05},  // largest subnormal
		{0x2e66, 0.0999755859375},        // nearest to 0.1
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := F16ToF32(c.h); got != c.f {
			t.Errorf("F16ToF32(%#04x) = %g, want %g", c.h, got, c.f)
		}
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if got := F16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToF32(0x8000) = %g, want -0", got)
	}
	if got := F16ToF32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("F16ToF32(0x7e00) = %g, want NaN", got)
	}
	if got := F32ToF16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("F32ToF16(NaN) = %#04x, want a NaN", got)
	}
}

// TestF16Rounding checks round-to-nearest-even at the midpoints between
// neighbouring binary16 values, normal and subnormal, computed in float64.
func TestF16Rounding(t *testing.T) {
	cases := []struct {
		f    float64
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},         // halfway 1 and 1+2^-10: to even (1)
		{1 + 3.0/2048, 0x3c02},         // halfway 1+2^-10 and 1+2^-9: to even
		{1 + 1.0/2048 + 1e-7, 0x3c01},  // just above halfway
		{65520, 0x7c00},                // halfway 65504 and 65536: even is Inf
		{65519, 0x7bff},                // below halfway
		{math.Ldexp(1, -25), 0x0000},   // half the smallest subnormal: to even (0)
		{math.Ldexp(1.5, -25), 0x0001}, // above half
		{math.Ldexp(3, -25), 0x0002},   // 1.5 units: to even (2)
		{math.Ldexp(1, -26), 0x0000},
		{math.Ldexp(1023.5, -24), 0x0400}, // rounds up into the smallest normal
	}
	for _, c := range cases {
		if got := F32ToF16(float32(c.f)); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

// TestF16RoundTripAll checks every binary16 value survives f16 -> f32 -> f16.
func TestF16RoundTripAll(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToF16(f); got != h {
			t.Fatalf("round trip %#04x -> %g -> %#04x", h, f, got)
		}
	}
}

func TestBF16Known(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x3f80, 1},
		{0xc000, -2},
		{0x3e80, 0.25},
		{0x4049, 3.140625},
		{0x7f80, float32(math.Inf(1))},
	}
	for _, c := range cases {
		if got := BF16ToF32(c.h); got != c.f {
			t.Errorf("BF16ToF32(%#04x) = %g, want %g", c.h, got, c.f)
		}
		if got := F32ToBF16(c.f); got != c.h {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	// Rounding: 1 + 2^-8 is halfway between bf16 1 and 1+2^-7: to even (1).
	if got := F32ToBF16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("F32ToBF16(1+2^-8) = %#04x, want 0x3f80", got)
	}
	if got := F32ToBF16(1 + 3.0/256); got != 0x3f82 {
		t.Errorf("F32ToBF16(1+3*2^-8) = %#04x, want 0x3f82", got)
	}
	if got := F32ToBF16(math.Float32frombits(0x3f808001)); got != 0x3f81 {
		t.Errorf("F32ToBF16(just above halfway) = %#04x, want 0x3f81", got)
	}
	if got := F32ToBF16(float32(math.NaN())); !math.IsNaN(float64(BF16ToF32(got))) {
		t.Errorf("F32ToBF16(NaN) = %#04x, not a NaN", got)
	}
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToBF16(f); got != h {
			t.Fatalf("round trip %#04x -> %g -> %#04x", h, f, got)
		}
	}
}
