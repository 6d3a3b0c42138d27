package kernels

import (
	"fmt"
	"math"
	"sync"
)

// Decoding's attention: one query per head against a KV cache that holds
// each key/value head's positions contiguously (AttnShape.KVRow = HS).
//
// The query heads that share a key/value head (GQA: 3 in SmolLM, 7 in
// Qwen2.5-0.5B) go through the keys and values together (attnGroupScores,
// attnGroupValues), so the cache streams from memory once per key/value
// head instead of once per query head. The keys are split into segments
// so that both threads have work when there are fewer key/value heads
// than threads; each (key/value head, segment) takes its own softmax
// maximum and sum, and a last pass merges the segments' sums
// (flash-decoding). The segmentation depends only on the shape, never on
// the thread count, so results do not change with it.

// attnSegMin and attnSegMax bound a segment's keys; attnUnits is how many
// (key/value head, segment) units decoding aims for: even for two, three
// and six threads, and few enough that each unit's keys stream for a
// while (12 units took 5% longer than 6 over SmolLM's 320 and 2048 keys).
const (
	attnGroupMax = 3 // query heads one kernel call serves (internal/asmgen/gemv)
	attnSegMin   = 16
	attnSegMax   = 1024
	attnUnits    = 6
)

// attnSegments returns the segment length for nk keys of nkv key/value
// heads (a multiple of 4, so the kernels take whole groups of rows).
func attnSegments(nk, nkv int) int {
	segs := max((attnUnits+nkv-1)/nkv, (nk+attnSegMax-1)/attnSegMax)
	segs = max(1, min(segs, (nk+attnSegMin-1)/attnSegMin))
	return ((nk+segs-1)/segs + 3) &^ 3
}

// attnPartials holds each (head, segment)'s maximum, sum and HS output
// sums between the units and the merge.
var attnPartials = sync.Pool{New: func() any { return new([]float32) }}

// decodes reports whether attnDecode serves a: one query of one sequence
// against per-head contiguous keys and values, causal or unmasked, with a
// positive scale.
func (a *AttnShape) decodes() bool {
	return a.B == 1 && a.T == 1 && a.KVRow == a.HS && a.Lens == nil && a.scale() > 0
}

// attnDecode is AttentionForward for a.decodes(): out (NH, HS) from q (NH,
// HS) and k, v laid out (NKV, KVHead/HS ≥ TK, HS). probs receives the
// softmax numerators of the segments, not the probabilities: nothing
// reads decoding's probabilities back.
func attnDecode(out, probs, q, k, v []float32, a *AttnShape) {
	NH, NKV, HS, TK := a.NH, a.NKV, a.HS, a.tk()
	nk := a.visible(0, 0)
	G := NH / NKV
	if nk == 0 {
		clear(out[:NH*HS])
		return
	}
	scale := a.scale()
	seg := attnSegments(nk, NKV)
	segs := (nk + seg - 1) / seg
	pw := HS + 2 // a partial: max, sum, HS sums
	pp := attnPartials.Get().(*[]float32)
	part := *pp
	if cap(part) < NH*segs*pw {
		part = make([]float32, NH*segs*pw)
	}
	part = part[:NH*segs*pw]
	if len(k) < (NKV-1)*a.KVHead+nk*HS || len(v) < (NKV-1)*a.KVHead+nk*HS || len(q) < NH*HS || len(out) < NH*HS || len(probs) < NH*TK {
		panic(fmt.Sprintf("kernels.attnDecode: q %d, k %d, v %d, out %d, probs %d values for %+v", len(q), len(k), len(v), len(out), len(probs), *a))
	}
	ParallelFor(NKV*segs, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			g, s := u/segs, u%segs
			j0, j1 := s*seg, min((s+1)*seg, nk)
			kg := k[g*a.KVHead+j0*HS : g*a.KVHead+j1*HS]
			vg := v[g*a.KVHead+j0*HS : g*a.KVHead+j1*HS]
			h0 := g * G
			P := probs[h0*TK+j0:]
			attnGroupScores(P, TK, kg, q[h0*HS:(h0+G)*HS], vg, G, j1-j0, HS)
			for h := range G {
				p := P[h*TK : h*TK+j1-j0]
				m := maxOf(p)
				sum := expAffine(p, p, scale, scale*m)
				pt := part[((h0+h)*segs+s)*pw:]
				pt[0], pt[1] = m, float32(sum)
				clear(pt[2 : 2+HS])
			}
			attnGroupValues(part[(h0*segs+s)*pw+2:], segs*pw, P, TK, vg, G, j1-j0, HS)
		}
	})
	for h := range NH {
		M := float32(math.Inf(-1))
		for s := range segs {
			M = max(M, part[(h*segs+s)*pw])
		}
		o := out[h*HS : (h+1)*HS]
		clear(o)
		var den float32
		for s := range segs {
			pt := part[(h*segs+s)*pw:]
			e := float32(math.Exp(float64(scale * (pt[0] - M))))
			den += e * pt[1]
			for i, x := range pt[2 : 2+HS] {
				o[i] += e * x
			}
		}
		for i := range o {
			o[i] /= den
		}
	}
	*pp = part
	attnPartials.Put(pp)
}

// attnGroupScores writes s[h·lds + j] = q[h·hs:(h+1)·hs]·k[j·hs:(j+1)·hs]
// for h < g, j < rows: with the AVX-512 kernel up to attnGroupMax heads
// at a time and four rows at a time (prefetching the value rows v beside
// the keys for attnGroupValues), the rest row by row per head.
func attnGroupScores(s []float32, lds int, k, q, v []float32, g, rows, hs int) {
	for h0 := 0; h0 < g; h0 += attnGroupMax {
		n := min(attnGroupMax, g-h0)
		r4 := rows &^ 3
		if r4 == 0 || !attnScoresAsm(n, s[h0*lds:], lds, k, q[h0*hs:(h0+n)*hs], v, r4, hs) {
			r4 = 0
		}
		for h := h0; h < h0+n; h++ {
			if rows > r4 {
				gemvRowsFast(s[h*lds+r4:h*lds+rows], k[r4*hs:rows*hs], q[h*hs:(h+1)*hs], hs)
			}
		}
	}
}

// attnGroupValues adds Σ_j p[h·ldp + j]·v[j·hs : (j+1)·hs] to o[h·ldo :
// h·ldo+hs] for h < g, j < rows: with the AVX-512 kernel up to
// attnGroupMax heads and 64 columns at a time, else head by head.
func attnGroupValues(o []float32, ldo int, p []float32, ldp int, v []float32, g, rows, hs int) {
	for h0 := 0; h0 < g; h0 += attnGroupMax {
		n := min(attnGroupMax, g-h0)
		done := hs%64 == 0
		for c := 0; done && c < hs; c += 64 {
			done = attnValuesAsm(n, o[h0*ldo+c:], ldo, p[h0*ldp:], ldp, v[c:], hs, rows)
		}
		if done {
			continue
		}
		for h := h0; h < h0+n; h++ {
			axpyRowsFast(o[h*ldo:h*ldo+hs], p[h*ldp:h*ldp+rows], v, hs)
		}
	}
}

// attnScoresGo and attnValuesGo are the references for the kernels.
func attnScoresGo(s []float32, lds int, k, q []float32, g, rows, hs int) {
	for h := range g {
		for j := range rows {
			s[h*lds+j] = dot8(k[j*hs:(j+1)*hs], q[h*hs:(h+1)*hs])
		}
	}
}

func attnValuesGo(o []float32, ldo int, p []float32, ldp int, v []float32, ldv, g, rows, cols int) {
	for h := range g {
		for j := range rows {
			pj := p[h*ldp+j]
			for c := range cols {
				o[h*ldo+c] += pj * v[j*ldv+c]
			}
		}
	}
}
