package half

import (
	"math"
	"testing"
)

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

func TestBF16(t *testing.T) {
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
