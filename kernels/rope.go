package kernels

import (
	"fmt"
	"math"
)

// Rotary position embedding (Su et al. 2021, RoFormer). Each pair of
// channels (a, b) at position p is rotated by the angle p·f_i:
// a' = a·cos - b·sin, b' = a·sin + b·cos. Two layouts pair the channels:
//
//   - rotate_half / "NEOX" (Hugging Face, GPT-NeoX): pair i is (i, i+D/2)
//   - interleaved (llama2.c, Meta's reference): pair i is (2i, 2i+1)
//
// where D <= HS is the number of rotated channels (partial rotary leaves
// channels D..HS untouched). GGUF `llama` files store q/k rows permuted so
// that the interleaved layout reproduces the HF model.

// RoPE holds the frequencies of a rotary embedding. Build it with NewRoPE.
type RoPE struct {
	HS          int       // head size
	Dims        int       // rotated channels, even, <= HS
	Interleaved bool      // pairs (2i, 2i+1) instead of (i, i+Dims/2)
	InvFreq     []float64 // (Dims/2) angle per position of pair i
}

// NewRoPE returns the rotary embedding with f_i = theta^(-2i/dims) /
// divisors[i], the Hugging Face inv_freq. dims is the number of rotated
// channels (HS for full rotary); divisors (dims/2) may be nil, else it
// holds per-frequency divisors such as GGUF `rope_freqs` or the result of
// Llama3RoPEDivisors.
func NewRoPE(HS, dims int, theta float64, divisors []float32, interleaved bool) (*RoPE, error) {
	switch {
	case dims <= 0 || dims > HS || dims%2 != 0:
		return nil, fmt.Errorf("rope: rotary dims %d must be even and in (0, head size %d]", dims, HS)
	case theta <= 0:
		return nil, fmt.Errorf("rope: theta %v must be positive", theta)
	case divisors != nil && len(divisors) != dims/2:
		return nil, fmt.Errorf("rope: %d frequency divisors, want dims/2 = %d", len(divisors), dims/2)
	}
	inv := make([]float64, dims/2)
	for i := range inv {
		inv[i] = math.Pow(theta, -float64(2*i)/float64(dims))
		if divisors != nil {
			if divisors[i] <= 0 {
				return nil, fmt.Errorf("rope: frequency divisor %d is %v, must be positive", i, divisors[i])
			}
			inv[i] /= float64(divisors[i])
		}
	}
	return &RoPE{HS: HS, Dims: dims, Interleaved: interleaved, InvFreq: inv}, nil
}

// Llama3RoPEDivisors returns the per-frequency divisors (dims/2) of Llama
// 3.1's rope_scaling (rope_type "llama3"): wavelengths shorter than
// origMaxPos/highFreqFactor keep their frequency, those longer than
// origMaxPos/lowFreqFactor are divided by factor, and those between blend
// the two with smooth = (origMaxPos/wavelen - low)/(high - low).
func Llama3RoPEDivisors(dims int, theta, factor, lowFreqFactor, highFreqFactor float64, origMaxPos int) []float32 {
	lowWave := float64(origMaxPos) / lowFreqFactor
	highWave := float64(origMaxPos) / highFreqFactor
	div := make([]float32, dims/2)
	for i := range div {
		f := math.Pow(theta, -float64(2*i)/float64(dims))
		wave := 2 * math.Pi / f
		scaled := f
		switch {
		case wave < highWave:
		case wave > lowWave:
			scaled = f / factor
		default:
			smooth := (float64(origMaxPos)/wave - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
			scaled = (1-smooth)*f/factor + smooth*f
		}
		div[i] = float32(f / scaled)
	}
	return div
}

// Angles returns the cosines and sines of the angles of positions pos
// (N), in cs grown to N·Dims: per position Dims/2 cosines, then Dims/2
// sines. RoPEForward and RoPEBackward rotate by such a table, so that a
// model computes it once per forward pass for q and k in every layer.
// Recomputing it per call cost SmolLM-135M 2.2-2.7 µs per layer and
// decoded token: 32 sincos per position, for q and again for k.
func (r *RoPE) Angles(cs []float32, pos []int32) []float32 {
	if n := len(pos) * r.Dims; cap(cs) < n {
		cs = make([]float32, n)
	} else {
		cs = cs[:n]
	}
	ropeAngles(cs, pos, r)
	return cs
}

// RoPEForward rotates every head of every row by its position's angles.
// out (N, NH, HS), inp (N, NH, HS), cs (N, Dims) from r.Angles of the rows'
// absolute positions (for a KV cache, offset by the cached length). out
// may be inp.
func RoPEForward(out, inp, cs []float32, N, NH int, r *RoPE) {
	ropeParallel(out, inp, cs, N, NH, r, 1, false)
}

// RoPEBackward accumulates dinp += Rᵀ·dout, the inverse rotation.
// dinp (N, NH, HS), dout (N, NH, HS), cs (N, Dims) from r.Angles.
func RoPEBackward(dinp, dout, cs []float32, N, NH int, r *RoPE) {
	ropeParallel(dinp, dout, cs, N, NH, r, -1, true)
}

func ropeParallel(out, inp, cs []float32, N, NH int, r *RoPE, sign float32, acc bool) {
	s := r.HS * NH
	if len(out) < N*s || len(inp) < N*s || len(cs) < N*r.Dims {
		panic(fmt.Sprintf("kernels.RoPE: out %d, inp %d, angles %d values for N=%d, NH=%d, HS=%d, Dims=%d", len(out), len(inp), len(cs), N, NH, r.HS, r.Dims))
	}
	if N == 1 { // decoding: no closure to allocate
		rope(out[:s], inp[:s], cs[:r.Dims], 1, NH, r, sign, acc)
		return
	}
	ParallelFor(N, func(lo, hi int) {
		rope(out[lo*s:hi*s], inp[lo*s:hi*s], cs[lo*r.Dims:hi*r.Dims], hi-lo, NH, r, sign, acc)
	})
}

// ropeAngles fills cs (len(pos), Dims) for r.Angles; the same code runs in
// float64 for the gradient tests.
func ropeAngles[F float](cs []F, pos []int32, r *RoPE) {
	half := r.Dims / 2
	for n, p := range pos {
		row := cs[n*r.Dims : (n+1)*r.Dims]
		for i, f := range r.InvFreq {
			s, c := math.Sincos(float64(p) * f)
			row[i], row[half+i] = F(c), F(s)
		}
	}
}

// rope writes (or with acc, adds) out = R(sign·angle)·inp for N rows of NH
// heads, with each row's cosines and sines in cs (N, Dims) (ropeAngles);
// the same code runs in float64 for the gradient tests.
func rope[F float](out, inp, cs []F, N, NH int, r *RoPE, sign F, acc bool) {
	HS, half := r.HS, r.Dims/2
	for n := 0; n < N; n++ {
		cos, sin := cs[n*r.Dims:n*r.Dims+half], cs[n*r.Dims+half:(n+1)*r.Dims]
		for h := 0; h < NH; h++ {
			x := inp[(n*NH+h)*HS : (n*NH+h+1)*HS]
			o := out[(n*NH+h)*HS : (n*NH+h+1)*HS]
			for i := 0; i < half; i++ {
				ia, ib := i, i+half
				if r.Interleaved {
					ia, ib = 2*i, 2*i+1
				}
				a, b := x[ia], x[ib]
				sn := sign * sin[i]
				ra, rb := a*cos[i]-b*sn, a*sn+b*cos[i]
				if acc {
					o[ia] += ra
					o[ib] += rb
				} else {
					o[ia], o[ib] = ra, rb
				}
			}
			switch {
			case r.Dims == HS:
			case acc:
				for j := r.Dims; j < HS; j++ {
					o[j] += x[j]
				}
			case &o[0] != &x[0]:
				copy(o[r.Dims:], x[r.Dims:])
			}
		}
	}
}
