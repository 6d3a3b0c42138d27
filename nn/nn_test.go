package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	FillNormal(s, 1, rng)
	return s
}

// TestLinear compares both paths of Linear.Forward (row by row for small N,
// GEMM otherwise) with a float64 loop, with and without bias.
func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, N := range []int{1, 2, 3, 17} {
		for _, bias := range []bool{false, true} {
			const In, Out = 37, 29
			l := NewLinear(In, Out, bias)
			FillNormal(l.W, 1, rng)
			if bias {
				FillNormal(l.B, 1, rng)
			}
			x := randSlice(rng, N*In)
			y := make([]float32, N*Out)
			l.Forward(y, x, N)
			for n := 0; n < N; n++ {
				for o := 0; o < Out; o++ {
					var want float64
					for i := 0; i < In; i++ {
						want += float64(x[n*In+i]) * float64(l.W[o*In+i])
					}
					if bias {
						want += float64(l.B[o])
					}
					if d := math.Abs(float64(y[n*Out+o]) - want); d > 1e-4 {
						t.Fatalf("N=%d bias=%v y[%d,%d] = %v, want %v", N, bias, n, o, y[n*Out+o], want)
					}
				}
			}
		}
	}
	if l := (&Linear{In: 2, Out: 3}); l.Base() != l {
		t.Fatal("Base of a Linear is not itself")
	}
}

// TestForwardCached: attending through the cache in two calls of different
// rows' lengths equals attending over the whole sequences at once.
func TestForwardCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := Attention{NH: 4, NKV: 2, HS: 8}
	const B, T = 2, 200 // T > attnChunk: the chunked path runs
	qd, kvd := a.NH*a.HS, a.NKV*a.HS
	q, k, v := randSlice(rng, B*T*qd), randSlice(rng, B*T*kvd), randSlice(rng, B*T*kvd)
	want := make([]float32, B*T*qd)
	a.Forward(want, make([]float32, B*a.NH*T*T), q, k, v, B, T, true, nil)

	c := NewKVCache(1, B, T, a.NKV, a.HS)
	split := 150
	got := make([]float32, B*T*qd)
	// Both rows take the first `split` positions, then the rest.
	sub := func(s []float32, d, t0, t1 int) []float32 {
		var out []float32
		for b := 0; b < B; b++ {
			out = append(out, s[(b*T+t0)*d:(b*T+t1)*d]...)
		}
		return out
	}
	for _, r := range [][2]int{{0, split}, {split, T}} {
		n := r[1] - r[0]
		out := make([]float32, B*n*qd)
		a.ForwardCached(out, make([]float32, a.CachedScratch(n, c.Len[0])), sub(q, qd, r[0], r[1]), sub(k, kvd, r[0], r[1]), sub(v, kvd, r[0], r[1]), B, n, c, 0)
		for b := 0; b < B; b++ {
			copy(got[(b*T+r[0])*qd:(b*T+r[1])*qd], out[b*n*qd:(b+1)*n*qd])
			c.Len[b] += n
		}
	}
	var maxd float64
	for i := range want {
		maxd = math.Max(maxd, math.Abs(float64(got[i]-want[i])))
	}
	if maxd > 1e-5 {
		t.Fatalf("cached attention differs by %.3g", maxd)
	}
}

func TestCheckIDs(t *testing.T) {
	if err := CheckIDs([]int32{0, 4}, 5); err != nil {
		t.Fatal(err)
	}
	err := CheckIDs([]int32{0, 5}, 5)
	if err == nil || err.Error() != "token id 5 at position 1 is outside the vocabulary of 5" {
		t.Fatalf("got %v", err)
	}
}

// wrapped is a LinearLayer that is not a *Linear (as a LoRA wrapper), so
// ForwardShared must call its Forward.
type wrapped struct{ *Linear }

func (w wrapped) Forward(y, x []float32, N int) {
	w.Linear.Forward(y, x, N)
	for i := range y[:N*w.Out] {
		y[i] += 1
	}
}

// TestForwardShared checks ForwardShared against each layer's own Forward:
// the fused GEMV (N <= 2, plain layers, with and without bias) gives the
// same bits, and a wrapper among the layers or N = 3 falls back to Forward.
func TestForwardShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const In = 48
	mk := func(out int, bias bool) *Linear {
		l := NewLinear(In, out, bias)
		FillNormal(l.W, 1, rng)
		if bias {
			FillNormal(l.B, 1, rng)
		}
		return l
	}
	q, k, v := mk(64, true), mk(16, false), mk(16, true)
	for _, N := range []int{1, 2, 3} {
		for _, layers := range [][]LinearLayer{{q, k, v}, {q, wrapped{k}, v}, {k}} {
			x := randSlice(rng, N*In)
			got, want := make([][]float32, len(layers)), make([][]float32, len(layers))
			for i, l := range layers {
				got[i], want[i] = make([]float32, N*l.Base().Out), make([]float32, N*l.Base().Out)
				l.Forward(want[i], x, N)
			}
			ForwardShared(x, N, got, layers...)
			for i := range got {
				for j := range got[i] {
					if got[i][j] != want[i][j] {
						t.Fatalf("N=%d %d layers: y%d[%d] = %v, want %v", N, len(layers), i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

func TestPositions(t *testing.T) {
	got := Positions(make([]int32, 1), 2, 3)
	want := []int32{0, 1, 2, 0, 1, 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Positions(2, 3) = %v, want %v", got, want)
	}
	buf := make([]int32, 8)
	if got := GrowInt32(buf, 5); len(got) != 5 || &got[0] != &buf[0] {
		t.Fatalf("GrowInt32 reallocated a buffer with room")
	}
}

// TestKVCacheLayout checks Put, Row, CopyRow and Rows against the layout
// by hand: (B, Heads, MaxLen, HeadDim) per layer.
func TestKVCacheLayout(t *testing.T) {
	const heads, hd = 2, 3
	c := NewKVCache(2, 2, 4, heads, hd)
	// Two positions (T=2) of (heads·hd) keys for row 1 of layer 1 at
	// positions 1 and 2: key value 100·t + 10·h + i, values negated.
	k, v := make([]float32, 2*heads*hd), make([]float32, 2*heads*hd)
	for tt := range 2 {
		for h := range heads {
			for i := range hd {
				k[tt*heads*hd+h*hd+i] = float32(100*tt + 10*h + i)
				v[tt*heads*hd+h*hd+i] = -float32(100*tt + 10*h + i)
			}
		}
	}
	c.Put(1, 1, 1, 2, k, v)
	kr, vr := c.Row(1, 1)
	if len(kr) != heads*4*hd || &kr[0] != &c.K[1][heads*4*hd] {
		t.Fatalf("Row(1, 1) is not row 1's block: len %d", len(kr))
	}
	for tt := range 2 {
		for h := range heads {
			for i := range hd {
				at := (h*4+1+tt)*hd + i // head h, position 1+tt
				if want := float32(100*tt + 10*h + i); kr[at] != want || vr[at] != -want {
					t.Fatalf("position %d head %d [%d]: k %g v %g, want %g", 1+tt, h, i, kr[at], vr[at], want)
				}
			}
		}
	}
	// CopyRow into a longer cache's row 0 takes the filled positions 0..2.
	c.Len[1] = 3
	d := NewKVCache(2, 1, 6, heads, hd)
	d.CopyRow(0, c, 1)
	dk, dv := d.Row(1, 0)
	for h := range heads {
		for p := range 3 {
			for i := range hd {
				if dk[(h*6+p)*hd+i] != kr[(h*4+p)*hd+i] || dv[(h*6+p)*hd+i] != vr[(h*4+p)*hd+i] {
					t.Fatalf("CopyRow: head %d position %d differs", h, p)
				}
			}
		}
	}
	if d.Len[0] != 3 {
		t.Fatalf("CopyRow: Len %d, want 3", d.Len[0])
	}
	r := c.Rows(1)
	if r.B != 1 || len(r.Len) != 1 || len(r.K[1]) != heads*4*hd || &r.K[1][0] != &c.K[1][0] || r.Heads != heads || r.HeadDim != hd {
		t.Fatalf("Rows(1): %+v", r)
	}
}
