package kernels

import (
	"fmt"
	"math"
)

// Scaled dot-product attention (Vaswani et al. 2017) with grouped-query
// heads (Ainslie et al. 2023): query head h reads key/value head
// h/(NH/NKV). Forward saves the softmax probabilities (B, NH, T, TK); the
// backward pass reuses them instead of recomputing (memory is B·NH·T·TK
// floats, 12 MiB at B=4, NH=12, T=256). Each (batch, head) runs its
// products through Gemm with row strides, so q, k and v stay in the layout
// a linear layer produces.

// AttnShape describes one attention call.
type AttnShape struct {
	B, T, NH, NKV, HS int
	// TK is the number of keys per sequence; 0 means T. With a KV cache,
	// TK is the cached length and the T queries are its last T positions.
	TK int
	// Causal masks key j for query i when j > i + (TK - T).
	Causal bool
	// Scale multiplies q·k; 0 means 1/sqrt(HS).
	Scale float32
	// Lens (B), when not nil, holds the number of valid keys of each
	// sequence (BERT padding): keys at j >= Lens[b] are masked. A query
	// with no visible key gets zero output.
	Lens []int
	// KVRow and KVHead, when set, lay k and v out otherwise (B must be
	// 1): position j of head g at j·KVRow + g·KVHead, as a KV cache of
	// (heads, positions, HS) holds them (KVRow = HS, KVHead = its
	// positions·HS). 0 means the layout linear layers write, (TK, NKV, HS).
	// One query in that cache layout (decoding) takes attnDecode, which
	// leaves unnormalised numerators in probs: nothing reads decoding's
	// probabilities back.
	KVRow, KVHead int
}

// kvLayout returns the elements between two positions of one head's keys,
// between two heads and between two sequences.
func (a *AttnShape) kvLayout() (row, head, seq int) {
	if a.KVRow == 0 {
		return a.NKV * a.HS, a.HS, a.tk() * a.NKV * a.HS
	}
	return a.KVRow, a.KVHead, 0
}

func (a *AttnShape) tk() int {
	if a.TK == 0 {
		return a.T
	}
	return a.TK
}

func (a *AttnShape) scale() float32 {
	if a.Scale == 0 {
		return float32(1 / math.Sqrt(float64(a.HS)))
	}
	return a.Scale
}

// check panics on shapes that cannot work: a broken invariant of the
// calling layer, reported with the shape.
func (a *AttnShape) check() {
	if a.B < 0 || a.T < 0 || a.NH <= 0 || a.NKV <= 0 || a.HS <= 0 || a.NH%a.NKV != 0 || a.tk() < 0 || (a.Lens != nil && len(a.Lens) != a.B) ||
		(a.KVRow != 0 && (a.B > 1 || a.KVRow < a.HS || (a.NKV > 1 && a.KVHead < a.tk()*a.KVRow))) {
		panic(fmt.Sprintf("kernels.Attention: bad shape %+v", *a))
	}
}

// visible returns how many keys (a prefix 0..n-1) query i of batch b sees.
func (a *AttnShape) visible(b, i int) int {
	n := a.tk()
	if a.Causal {
		n = min(n, i+a.tk()-a.T+1)
	}
	if a.Lens != nil {
		n = min(n, a.Lens[b])
	}
	return max(n, 0)
}

// attnTile is the number of query rows per Gemm in the causal case, so the
// masked upper triangle is mostly skipped.
const attnTile = 64

// AttentionForward computes out = softmax(scale·q·kᵀ + mask)·v per head.
// out (B, T, NH, HS), probs (B, NH, T, TK) saved for backward, q (B, T, NH,
// HS), k (B, TK, NKV, HS), v (B, TK, NKV, HS).
func AttentionForward(out, probs, q, k, v []float32, a *AttnShape) {
	a.check()
	if a.decodes() {
		attnDecode(out, probs, q, k, v, a)
		return
	}
	T, TK, NH, NKV, HS := a.T, a.tk(), a.NH, a.NKV, a.HS
	scale := a.scale()
	ld, kvHead, kvSeq := a.kvLayout()
	ParallelFor(a.B*NH, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			qo := b*T*NH*HS + h*HS
			ko := b*kvSeq + h/(NH/NKV)*kvHead
			P := probs[bh*T*TK : (bh+1)*T*TK]
			for i0 := 0; i0 < T; i0 += attnTile {
				i1 := min(i0+attnTile, T)
				nk := a.visible(b, i1-1) // the widest row of the tile
				switch {
				case nk > 0 && i1-i0 == 1:
					// One query (decoding): its scores are a matrix-vector
					// product over the strided key rows, without the
					// packing of K a GEMM would do for each head.
					gemvRowsFast(P[i0*TK:i0*TK+nk], k[ko:], q[qo+i0*NH*HS:qo+i0*NH*HS+HS], ld)
				case nk > 0:
					Gemm(false, true, i1-i0, nk, HS, q[qo+i0*NH*HS:], NH*HS, k[ko:], ld, P[i0*TK:], TK, false)
				}
				for i := i0; i < i1; i++ {
					row := P[i*TK : (i+1)*TK]
					n := a.visible(b, i)
					clear(row[n:])
					if n == 0 {
						continue
					}
					softmaxRow(row[:n], row[:n], scale)
				}
				switch {
				case nk > 0 && i1-i0 == 1:
					// One query: the weighted sum of value rows, read in
					// place (a GEMM would pack V for each head).
					o := out[qo+i0*NH*HS : qo+i0*NH*HS+HS]
					clear(o)
					axpyRowsFast(o, P[i0*TK:i0*TK+nk], v[ko:], ld)
				case nk > 0:
					Gemm(false, false, i1-i0, HS, nk, P[i0*TK:], TK, v[ko:], ld, out[qo+i0*NH*HS:], NH*HS, false)
				default:
					for i := i0; i < i1; i++ {
						clear(out[qo+i*NH*HS : qo+i*NH*HS+HS])
					}
				}
			}
		}
	})
}

// AttentionBackward accumulates dq, dk and dv from dout and the saved
// probabilities P: dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP - rowsum(dP∘P)),
// dQ += scale·dS·K, dK += scale·dSᵀ·Q. dq (B, T, NH, HS), dk, dv (B, TK,
// NKV, HS), dout (B, T, NH, HS), probs (B, NH, T, TK), q, k, v as in
// AttentionForward. Nil dq, dk or dv are skipped. Work is split over
// (batch, kv head) so that the query heads sharing a kv head never race.
func AttentionBackward(dq, dk, dv, dout, probs, q, k, v []float32, a *AttnShape) {
	a.check()
	T, TK, NH, NKV, HS := a.T, a.tk(), a.NH, a.NKV, a.HS
	scale := a.scale()
	group := NH / NKV
	ParallelFor(a.B*NKV, func(lo, hi int) {
		dS := make([]float32, min(attnTile, T)*TK)
		for bkv := lo; bkv < hi; bkv++ {
			b, kvh := bkv/NKV, bkv%NKV
			ko := b*TK*NKV*HS + kvh*HS
			for h := kvh * group; h < (kvh+1)*group; h++ {
				bh := b*NH + h
				qo := b*T*NH*HS + h*HS
				P := probs[bh*T*TK : (bh+1)*T*TK]
				for i0 := 0; i0 < T; i0 += attnTile {
					i1 := min(i0+attnTile, T)
					nk := a.visible(b, i1-1)
					if nk == 0 {
						continue
					}
					m := i1 - i0
					dO := dout[qo+i0*NH*HS:]
					Pt := P[i0*TK:]
					if dv != nil {
						Gemm(true, false, nk, HS, m, Pt, TK, dO, NH*HS, dv[ko:], NKV*HS, true)
					}
					if dq == nil && dk == nil {
						continue
					}
					Gemm(false, true, m, nk, HS, dO, NH*HS, v[ko:], NKV*HS, dS, TK, false)
					for i := 0; i < m; i++ {
						d, p := dS[i*TK:i*TK+nk], Pt[i*TK:i*TK+nk]
						var dot float32
						for j := range d {
							dot += d[j] * p[j]
						}
						for j := range d {
							d[j] = scale * p[j] * (d[j] - dot)
						}
					}
					if dq != nil {
						Gemm(false, false, m, HS, nk, dS, TK, k[ko:], NKV*HS, dq[qo+i0*NH*HS:], NH*HS, true)
					}
					if dk != nil {
						Gemm(true, false, nk, HS, m, dS, TK, q[qo+i0*NH*HS:], NH*HS, dk[ko:], NKV*HS, true)
					}
				}
			}
		}
	})
}

// AttentionDecode attends one new query per head over a KV cache of L
// positions (generation); the query is at position L-1 and sees every
// cached key. out (NH, HS), att (NH, L) scratch probabilities, q (NH, HS),
// kc, vc (L, NKV, HS) with the cache rows contiguous from position 0.
// scale 0 means 1/sqrt(HS).
func AttentionDecode(out, att, q, kc, vc []float32, L, NH, NKV, HS int, scale float32) {
	AttentionForward(out, att, q, kc, vc, &AttnShape{B: 1, T: 1, TK: L, NH: NH, NKV: NKV, HS: HS, Scale: scale})
}

// attentionForward is the reference: plain loops, float64 exp, in F.
func attentionForward[F float](out, probs, q, k, v []F, a *AttnShape) {
	T, TK, NH, NKV, HS := a.T, a.tk(), a.NH, a.NKV, a.HS
	scale := float64(a.scale())
	for b := 0; b < a.B; b++ {
		for h := 0; h < NH; h++ {
			kvh := h / (NH / NKV)
			for i := 0; i < T; i++ {
				qi := q[((b*T+i)*NH+h)*HS:][:HS]
				p := probs[((b*NH+h)*T+i)*TK:][:TK]
				n := a.visible(b, i)
				mx := math.Inf(-1)
				for j := 0; j < TK; j++ {
					p[j] = 0
					if j >= n {
						continue
					}
					kj := k[((b*TK+j)*NKV+kvh)*HS:][:HS]
					var s F
					for c := range qi {
						s += qi[c] * kj[c]
					}
					p[j] = s * F(scale)
					mx = math.Max(mx, float64(p[j]))
				}
				var sum float64
				for j := 0; j < n; j++ {
					e := math.Exp(float64(p[j]) - mx)
					p[j] = F(e)
					sum += e
				}
				for j := 0; j < n; j++ {
					p[j] = F(float64(p[j]) / sum)
				}
				o := out[((b*T+i)*NH+h)*HS:][:HS]
				for c := range o {
					var s F
					for j := 0; j < n; j++ {
						s += p[j] * v[((b*TK+j)*NKV+kvh)*HS+c]
					}
					o[c] = s
				}
			}
		}
	}
}

// attentionBackward is the reference backward, loop by loop.
func attentionBackward[F float](dq, dk, dv, dout, probs, q, k, v []F, a *AttnShape) {
	T, TK, NH, NKV, HS := a.T, a.tk(), a.NH, a.NKV, a.HS
	scale := F(a.scale())
	dp := make([]F, TK)
	for b := 0; b < a.B; b++ {
		for h := 0; h < NH; h++ {
			kvh := h / (NH / NKV)
			for i := 0; i < T; i++ {
				p := probs[((b*NH+h)*T+i)*TK:][:TK]
				g := dout[((b*T+i)*NH+h)*HS:][:HS]
				var dot F
				for j := 0; j < TK; j++ {
					vj := v[((b*TK+j)*NKV+kvh)*HS:][:HS]
					var s F
					for c := range g {
						s += g[c] * vj[c]
						if dv != nil {
							dv[((b*TK+j)*NKV+kvh)*HS+c] += p[j] * g[c]
						}
					}
					dp[j] = s
					dot += s * p[j]
				}
				for j := 0; j < TK; j++ {
					ds := scale * p[j] * (dp[j] - dot)
					for c := 0; c < HS; c++ {
						qi := ((b*T+i)*NH+h)*HS + c
						kj := ((b*TK+j)*NKV+kvh)*HS + c
						if dq != nil {
							dq[qi] += ds * k[kj]
						}
						if dk != nil {
							dk[kj] += ds * q[qi]
						}
					}
				}
			}
		}
	}
}
