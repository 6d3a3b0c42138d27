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

// RoPEForward rotates every head of every row by its position.
// out (N, NH, HS), inp (N, NH, HS), pos (N) with N = B·T and pos[n] the
// absolute position of row n (for a KV cache, offset by the cached length).
// out may be inp.
func RoPEForward(out, inp []float32, pos []int32, N, NH int, r *RoPE) {
	ParallelFor(N, func(lo, hi int) {
		s := r.HS * NH
		rope(out[lo*s:hi*s], inp[lo*s:hi*s], pos[lo:hi], hi-lo, NH, r, 1, false)
	})
}

// RoPEBackward accumulates dinp += Rᵀ·dout, the inverse rotation.
// dinp (N, NH, HS), dout (N, NH, HS), pos (N).
func RoPEBackward(dinp, dout []float32, pos []int32, N, NH int, r *RoPE) {
	ParallelFor(N, func(lo, hi int) {
		s := r.HS * NH
		rope(dinp[lo*s:hi*s], dout[lo*s:hi*s], pos[lo:hi], hi-lo, NH, r, -1, true)
	})
}

// rope writes (or with acc, adds) out = R(sign·angle)·inp for N rows of NH
// heads; the same code runs in float64 for the gradient tests.
func rope[F float](out, inp []F, pos []int32, N, NH int, r *RoPE, sign float64, acc bool) {
	HS, half := r.HS, r.Dims/2
	cos := make([]F, half)
	sin := make([]F, half)
	for n := 0; n < N; n++ {
		p := float64(pos[n])
		for i, f := range r.InvFreq {
			s, c := math.Sincos(p * f)
			cos[i], sin[i] = F(c), F(sign*s)
		}
		for h := 0; h < NH; h++ {
			x := inp[(n*NH+h)*HS : (n*NH+h+1)*HS]
			o := out[(n*NH+h)*HS : (n*NH+h+1)*HS]
			for i := 0; i < half; i++ {
				ia, ib := i, i+half
				if r.Interleaved {
					ia, ib = 2*i, 2*i+1
				}
				a, b := x[ia], x[ib]
				ra, rb := a*cos[i]-b*sin[i], a*sin[i]+b*cos[i]
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
