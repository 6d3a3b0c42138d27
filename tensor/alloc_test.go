package tensor

import (
	"testing"
	"unsafe"
)

// TestHugeSpan checks the aligned range by hand: a buffer starting just
// after a 2 MiB boundary, one starting on it, and ones too small to hold a
// whole huge page.
func TestHugeSpan(t *testing.T) {
	const M2 = 2 << 20
	for _, c := range []struct {
		p      uintptr
		n      int
		lo, hi int
	}{
		{10*M2 + 4096, 5 * M2, M2 - 4096, 5*M2 - 4096}, // pages 11..14
		{10 * M2, 5 * M2, 0, 5 * M2},                   // 10..14
		{10 * M2, 5*M2 + 100, 0, 5 * M2},               // a partial page at the end is left
		{10*M2 + 1, M2, 0, 0},                          // no whole page
		{10*M2 + 1, 2 * M2, M2 - 1, 2*M2 - 1},          // exactly one
		{10 * M2, 0, 0, 0},
	} {
		lo, hi := hugeSpan(c.p, c.n)
		if lo != c.lo || hi != c.hi {
			t.Errorf("hugeSpan(%#x, %d) = [%d, %d), want [%d, %d)", c.p, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestMakeZeroed(t *testing.T) {
	for _, n := range []int{0, 1, 1000, hugeMin/4 + 3} {
		b := Make(n)
		if len(b) != n {
			t.Fatalf("Make(%d) has %d values", n, len(b))
		}
		for i, v := range b {
			if v != 0 {
				t.Fatalf("Make(%d)[%d] = %g", n, i, v)
			}
		}
	}
}

// TestWeights checks the carving: each weight zeroed, its capacity its
// length (an append cannot run into the next), 64-byte aligned, none
// overlapping; small and large ones allocated on their own.
func TestWeights(t *testing.T) {
	sizes := []int{300 << 10, 1, 16 << 10, 777 << 10, chunkFloats/4 + 1, 1 << 20, 5 << 20, 123457}
	ws := make([][]float32, len(sizes))
	for i, n := range sizes {
		ws[i] = Weights(n)
		w := ws[i]
		if len(w) != n || cap(w) != n {
			t.Fatalf("Weights(%d): len %d cap %d", n, len(w), cap(w))
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(w))); 4*n >= 64<<10 && p%64 != 0 {
			t.Errorf("Weights(%d) at %#x is not 64-byte aligned", n, p)
		}
		for j, v := range w {
			if v != 0 {
				t.Fatalf("Weights(%d)[%d] = %g", n, j, v)
			}
		}
		for j := range w {
			w[j] = float32(i + 1)
		}
	}
	for i, w := range ws {
		for j, v := range w {
			if v != float32(i+1) {
				t.Fatalf("weight %d (%d values) [%d] = %g: another weight overlaps it", i, sizes[i], j, v)
			}
		}
	}
}

// TestMapped checks that a mapped buffer is zeroed, writable and as long
// as asked, and that releasing it is allowed.
func TestMapped(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 3 << 20} {
		b, release := Mapped(n)
		if len(b) != n {
			t.Fatalf("Mapped(%d) has %d values", n, len(b))
		}
		for i := range b {
			if b[i] != 0 {
				t.Fatalf("Mapped(%d)[%d] = %g", n, i, b[i])
			}
			b[i] = 1
		}
		release()
	}
}
