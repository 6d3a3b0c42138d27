package lora

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// state is what an adapter's modules share: training mode, the dropout
// generator (one stream, drawn in forward order, so a seeded run repeats)
// and dropout scratch. Modules run one at a time, so one scratch serves
// all: a module's mask is regenerated from its seed in Backward instead of
// being kept, which would cost an (N, In) copy of every adapted input.
type state struct {
	training bool
	pcg      *rand.PCG
	rng      *rand.Rand
	keep, xd []float32 // (N, In) dropout multipliers 0 or 1/(1-p); dropout(x)
	tmp      []float32 // (N, In)
}

// Linear wraps a frozen base layer with a low-rank update:
//
//	y = base(x) + s·(dropout(x)·Aᵀ)·Bᵀ,  x (N, In), A (R, In), B (Out, R)
//
// computed as two skinny products (B·A is never formed). Forward saves
// h = dropout(x)·Aᵀ (N, R) and the seed of the dropout mask for Backward:
//
//	dB += s·dyᵀ·h;  dh = s·dy·B;  dA += dhᵀ·dropout(x);  dx += dy·W + (dh·A)∘mask
//
// Backward must follow the Forward whose activations it uses, with the
// same x and N (the model's backward passes them).
type Linear struct {
	Name   string     // module path ("model.layers.0.self_attn.q_proj")
	base   *nn.Linear // frozen
	R      int
	Alpha  float64
	Scale  float32   // s
	A      []float32 // (R, In) lora_A.weight
	B      []float32 // (Out, R) lora_B.weight
	DA, DB []float32 // gradients of A and B, accumulated by Backward
	p      float32   // dropout probability
	st     *state

	seed    uint64    // seed of the last Forward's dropout mask
	replay  bool      // Forward reuses seed (nn.Replayer)
	dropped bool      // the last Forward applied dropout
	n       int       // rows of the last Forward
	h, hs   []float32 // (N, R) dropout(x)·Aᵀ and s·h, saved
	dh      []float32 // (N, R) scratch
}

func newLinear(name string, base *nn.Linear, r int, alpha float64, rs bool, p float64, st *state) *Linear {
	return &Linear{Name: name, base: base, R: r, Alpha: alpha, Scale: float32(scaleOf(alpha, r, rs)),
		A: make([]float32, r*base.In), B: make([]float32, base.Out*r),
		DA: make([]float32, r*base.In), DB: make([]float32, base.Out*r), p: float32(p), st: st}
}

// Base returns the frozen base layer.
func (l *Linear) Base() *nn.Linear { return l.base }

// Forward writes y (N, Out) = base(x) + s·(dropout(x)·Aᵀ)·Bᵀ for x (N, In).
// With B = 0 the sum adds exact zeros: y equals the base output bit for
// bit.
func (l *Linear) Forward(y, x []float32, N int) {
	In, Out, R := l.base.In, l.base.Out, l.R
	l.base.Forward(y, x, N)
	l.n = N
	xin := x[:N*In]
	l.dropped = l.p > 0 && l.st.training
	if l.dropped {
		if !l.replay {
			l.seed = l.st.rng.Uint64()
		}
		xin = l.dropout(x[:N*In])
	}
	l.h, l.hs = nn.Grow(l.h, N*R), nn.Grow(l.hs, N*R)
	kernels.MatMulBT(l.h, xin, l.A, N, In, R, false)
	for i, v := range l.h {
		l.hs[i] = l.Scale * v
	}
	kernels.MatMulBT(y, l.hs, l.B, N, R, Out, true)
}

// Replay makes Forward repeat the last call's dropout mask (on) or draw a
// new one (off): a model recomputing a layer for gradient checkpointing
// replays, so the recomputed activations equal the original forward's.
func (l *Linear) Replay(on bool) { l.replay = on }

// Backward accumulates dA, dB and dx (N, In) for dy (N, Out) and the x
// (N, In) of the last Forward. A nil dx skips the input gradient.
func (l *Linear) Backward(dx, dy, x []float32, N int) {
	In, Out, R := l.base.In, l.base.Out, l.R
	if N != l.n || len(l.h) != N*R {
		panic(fmt.Sprintf("lora.Linear %s: Backward for %d rows after a Forward of %d", l.Name, N, l.n))
	}
	xin := x[:N*In]
	drop := l.dropped
	if drop {
		xin = l.dropout(xin) // the Forward's mask again, from its seed
	}
	kernels.MatMulAT(l.DB, dy, l.hs, Out, N, R, true) // dB += dyᵀ·(s·h)
	l.dh = nn.Grow(l.dh, N*R)
	kernels.MatMul(l.dh, dy, l.B, N, Out, R, false) // dh = s·dy·B
	for i := range l.dh {
		l.dh[i] *= l.Scale
	}
	kernels.MatMulAT(l.DA, l.dh, xin, R, N, In, true) // dA += dhᵀ·dropout(x)
	if dx == nil {
		return
	}
	l.base.Backward(dx, dy, x, N)
	if !drop {
		kernels.MatMul(dx, l.dh, l.A, N, R, In, true)
		return
	}
	st := l.st
	st.tmp = nn.Grow(st.tmp, N*In)
	kernels.MatMul(st.tmp, l.dh, l.A, N, R, In, false)
	for i, v := range st.tmp {
		dx[i] += v * st.keep[i]
	}
}

// dropout fills the shared mask from l.seed (torch's inverted dropout:
// kept inputs scaled by 1/(1-p)) and returns dropout(x) in shared scratch.
func (l *Linear) dropout(x []float32) []float32 {
	st := l.st
	st.keep, st.xd = nn.Grow(st.keep, len(x)), nn.Grow(st.xd, len(x))
	inv := 1 / (1 - l.p)
	// An input is dropped when a uniform 32-bit draw is below p·2³², two
	// draws to a 64-bit number. Blocks of the input draw from their own
	// streams, in parallel: the mask does not depend on the threads.
	thr := uint32(min(float64(l.p)*(1<<32), math.MaxUint32))
	blocks := (len(x) + dropoutBlock - 1) / dropoutBlock
	kernels.ParallelFor(blocks, func(lo, hi int) {
		var src rand.PCG
		for b := lo; b < hi; b++ {
			src.Seed(l.seed, 0x6d61736b+uint64(b))
			i1 := min((b+1)*dropoutBlock, len(x))
			keep, xd := st.keep[b*dropoutBlock:i1], st.xd[b*dropoutBlock:i1]
			var r uint64
			for i := range keep {
				if i%2 == 0 {
					r = src.Uint64()
				} else {
					r >>= 32
				}
				k := inv
				if uint32(r) < thr {
					k = 0
				}
				keep[i] = k
				xd[i] = x[b*dropoutBlock+i] * k
			}
		}
	})
	return st.xd
}

// dropoutBlock is how many inputs one random stream of dropout masks.
const dropoutBlock = 1 << 14

// merge folds s·B·A into the base weight (Out, In).
func (l *Linear) merge() {
	In, Out := l.base.In, l.base.Out
	ba := make([]float32, Out*In)
	kernels.MatMul(ba, l.B, l.A, Out, l.R, In, false)
	for i, v := range ba {
		l.base.W[i] += l.Scale * v
	}
}
