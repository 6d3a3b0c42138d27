package kernels

import (
	"fmt"
	"math"
	"sync"
)

// The blocked GEMM follows Goto & van de Geijn, "Anatomy of High-Performance
// Matrix Multiplication" (ACM TOMS 34(3), 2008), in the loop order of BLIS:
//
//	for jc over N by NC:          B block (KC, NC) packed once, lives in L3
//	  for pc over K by KC:
//	    for ic over M by MC:      A block (MC, KC) packed once, lives in L2
//	      for jr over NC by NR:   B micro-panel (KC, NR) stays in L1
//	        for ir over MC by MR: micro-kernel, C tile (MR, NR) in registers
//
// Packing lays out A in panels of MR rows stored k-major (A[i,p] at p*MR+i)
// and B in panels of NR columns stored k-major (B[p,j] at p*NR+j), zero-padded
// to full panels; transposes and bf16 conversion happen there, so one
// micro-kernel serves every variant. Skinny operands skip packing where the
// packing would cost as much as the multiply (see gemmDirectN, gemmDirectM).
const (
	gemmMR = 6    // rows of a panel of A: the AVX2 tile; AVX-512 tiles take two
	gemmNR = 32   // columns of a panel of B: two zmm, or two 16-column AVX2 tiles
	gemmKC = 256  // depth of a packed block: a (KC, NR) B panel is 32 KiB, in L1
	gemmMC = 72   // rows of a packed A block: (MC, KC) is 72 KiB, in L2
	gemmNC = 4064 // columns of a packed B block: (KC, NC) is 4 MiB, in L3

	// gemmParallelMinFlops is the size (2·M·N·K) below which Gemm stays on
	// the calling goroutine: waking workers costs a few microseconds.
	gemmParallelMinFlops = 1 << 22

	// gemmDirectN is the widest op(B) for which A is read in place instead
	// of packed: packing A costs about one multiply pass over one B panel,
	// so it only pays off when there are many panels.
	gemmDirectN = 64
	// gemmDirectNTrans is gemmDirectN for a transposed A whose rows are a
	// multiple of 4 KiB apart: each micro-kernel call then reads 6 floats
	// from KC cache lines that all fall in the same few cache sets, and
	// the next call finds them evicted. (Measured against OpenBLAS on
	// Aᵀ·B with N=64: in place 1.1x with lda=768, 0.7x with lda=1024.)
	gemmDirectNTrans = 32
	// gemmDirectM is likewise the tallest op(A) for which a row-major B is
	// read in place.
	gemmDirectM = 8 * gemmMR

	// gemmPrepackMax is the most floats of packed B that threads share
	// (16 MiB: half the L3 of the machine this was tuned on).
	gemmPrepackMax = 4 << 20
)

// microKernel computes n >= 1 (MR, w) tiles stacked down C, c = a·b over
// kc >= 1 steps, or adds them to c when acc is set, for w = NR or 16 (a B
// panel whose other columns are padding). Tile t's A[i,p] is
// a[t*ps + i*ars + p*aks] with ars == 1 or aks == 1; every tile shares
// B[p,j] = b[p*bks + j]; tile t's C[i,j] is c[(t*MR+i)*ldc + j].
type microKernel func(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool, w int)

// gemmArgs holds one Gemm call's operands; see Gemm for their meaning.
type gemmArgs struct {
	transA, transB bool
	a              []float32 // op(A) (M, K)
	lda            int
	b              []float32 // op(B) (K, N), unless bh is set
	bh             []uint16  // op(B) (K, N) as bf16 bits; replaces b when non-nil
	ldb            int
	c              []float32 // (M, N)
	ldc            int
	accumulate     bool
}

// gemmBufs are one goroutine's packing buffers, reused through gemmBufPool.
type gemmBufs struct {
	a     []float32 // packed A block (MC, KC)
	b     []float32 // packed B block (KC, NC)
	aEdge []float32 // one packed A panel (KC, MR) for in-place A's last rows
	bEdge []float32 // one packed B panel (KC, NR) for in-place B's last columns
	tile  []float32 // (MR, NR) scratch tile for C's edges
}

var gemmBufPool = sync.Pool{New: func() any {
	return &gemmBufs{
		aEdge: make([]float32, gemmKC*gemmMR),
		bEdge: make([]float32, gemmKC*gemmNR),
		tile:  make([]float32, gemmMR*gemmNR),
	}
}}

// grow returns s resized to n elements, reallocating only when too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmThreads is the number of threads Gemm uses for sizes M, N, K: one
// below gemmParallelMinFlops, else Threads().
func gemmThreads(M, N, K int) int {
	if 2*float64(M)*float64(N)*float64(K) < gemmParallelMinFlops {
		return 1
	}
	return Threads()
}

// gemmRun computes g's product of sizes M, N, K >= 0 on up to threads
// workers with the micro-kernel kern. Each worker takes a contiguous range
// of C's row tiles (or column tiles, when C is wider than tall) and runs the
// whole blocked algorithm on it with its own buffers: one hand-off per call,
// no synchronisation inside it. Results do not depend on the number of
// threads: every C element sees the same sums in the same order.
func gemmRun(g *gemmArgs, M, N, K, threads int, kern microKernel) {
	if M == 0 || N == 0 {
		return
	}
	if K == 0 {
		if !g.accumulate {
			for i := 0; i < M; i++ {
				clear(g.c[i*g.ldc : i*g.ldc+N])
			}
		}
		return
	}
	mt := (M + gemmMR - 1) / gemmMR
	nt := (N + gemmNR - 1) / gemmNR
	switch {
	case threads <= 1:
		gemmBlock(g, 0, M, 0, N, K, kern)
	case nt < 4*threads || (M >= 2*N && mt >= threads):
		// Split the rows when C is narrow (a LoRA rank as N) or much
		// taller than wide. A worker packs all of the operand that is not
		// split, so the packing overhead relative to the multiply goes as
		// 1/N + threads/M with rows split, threads/N + 1/M with columns;
		// on the square-ish shapes the two measured within noise, columns
		// a little ahead (one hand-off, packing interleaved with the
		// multiply). When rows are split and all of B fits the budget,
		// the workers pack B once between them instead.
		_, directB := g.gemmDirect(M/threads, N)
		if !directB && N <= gemmNC && K*((N+gemmNR-1)/gemmNR*gemmNR) <= gemmPrepackMax {
			gemmPrepacked(g, M, N, K, threads, kern)
			return
		}
		parallelFor(mt, threads, func(lo, hi int) {
			gemmBlock(g, lo*gemmMR, min(hi*gemmMR, M), 0, N, K, kern)
		})
	default:
		parallelFor(nt, threads, func(lo, hi int) {
			gemmBlock(g, 0, M, lo*gemmNR, min(hi*gemmNR, N), K, kern)
		})
	}
}

// gemmSteps calls fn for each (jc, nc) block of [j0, j1) and (pc, kc) block
// of [0, K), in the order of the blocked loops. Column blocks are of equal
// width (in whole tiles) so that none is left with a sliver.
func gemmSteps(j0, j1, K int, fn func(jc, nc, pc, kc int)) {
	n := j1 - j0
	blocks := (n + gemmNC - 1) / gemmNC
	step := ((n+blocks-1)/blocks + gemmNR - 1) / gemmNR * gemmNR
	for jc := j0; jc < j1; jc += step {
		nc := min(step, j1-jc)
		for pc := 0; pc < K; pc += gemmKC {
			fn(jc, nc, pc, min(gemmKC, K-pc))
		}
	}
}

// gemmDirect says whether A and B are read in place for a worker's part of
// C with mc rows and nc columns: in place, A must be a full panel of MR rows
// (A[i,p] at i*lda+p, or, with transA, at p*lda+i), B likewise, only
// without transB or bf16.
func (g *gemmArgs) gemmDirect(mc, nc int) (directA, directB bool) {
	directA = nc <= gemmDirectN && (!g.transA || g.lda%1024 != 0 || nc <= gemmDirectNTrans)
	directB = !g.transB && g.bh == nil && mc <= gemmDirectM
	return directA, directB
}

// gemmBlock computes the part C[i0:i1, j0:j1] of the product on the
// calling goroutine.
func gemmBlock(g *gemmArgs, i0, i1, j0, j1, K int, kern microKernel) {
	bufs := gemmBufPool.Get().(*gemmBufs)
	defer gemmBufPool.Put(bufs)
	directA, directB := g.gemmDirect(i1-i0, j1-j0)
	gemmSteps(j0, j1, K, func(jc, nc, pc, kc int) {
		var bp []float32 // the packed B block, nil when B is read in place
		if directB {
			if r := nc % gemmNR; r != 0 {
				g.packBPanel(bufs.bEdge[:kc*gemmNR], jc+nc-r, r, pc, kc)
			}
		} else {
			bufs.b = grow(bufs.b, kc*((nc+gemmNR-1)/gemmNR*gemmNR))
			bp = bufs.b
			for jr := 0; jr < nc; jr += gemmNR {
				g.packBPanel(bp[jr*kc:(jr+gemmNR)*kc], jc+jr, min(gemmNR, nc-jr), pc, kc)
			}
		}
		for ic := i0; ic < i1; ic += gemmMC {
			g.macroKernel(bufs, bp, directA, ic, min(gemmMC, i1-ic), jc, nc, pc, kc, kern)
		}
	})
}

// gemmPanel is one B panel to pack: NR columns (nr valid) from column j and
// depth pc, kc steps, at off in the packed B.
type gemmPanel struct{ j, nr, pc, kc, off int }

// gemmPrepacked computes the product on threads workers that split C's rows
// and share all of B, packed once between them first: a worker packing all
// of B for its rows alone (gemmBlock) spends as long on it as on the whole
// multiply's share of a few percent. Two hand-offs per call, none inside.
func gemmPrepacked(g *gemmArgs, M, N, K, threads int, kern microKernel) {
	shared := gemmBufPool.Get().(*gemmBufs)
	defer gemmBufPool.Put(shared)
	// The packed B holds the (jc, pc) blocks in loop order, each as
	// gemmBlock packs it; offs[s] is step s's block.
	var panels []gemmPanel
	var offs []int
	size := 0
	gemmSteps(0, N, K, func(jc, nc, pc, kc int) {
		offs = append(offs, size)
		for jr := 0; jr < nc; jr += gemmNR {
			panels = append(panels, gemmPanel{jc + jr, min(gemmNR, nc-jr), pc, kc, size + jr*kc})
		}
		size += kc * ((nc + gemmNR - 1) / gemmNR * gemmNR)
	})
	shared.b = grow(shared.b, size)
	bp := shared.b
	parallelFor(len(panels), threads, func(lo, hi int) {
		for _, q := range panels[lo:hi] {
			g.packBPanel(bp[q.off:q.off+q.kc*gemmNR], q.j, q.nr, q.pc, q.kc)
		}
	})
	// Rows go in a few chunks per thread, claimed as threads come free:
	// B is shared, so chunks cost no extra packing, and a worker that
	// wakes late or is preempted still takes its share.
	mt := (M + gemmMR - 1) / gemmMR
	parallelChunks(mt, 4*threads, threads, func(lo, hi int) {
		i0, i1 := lo*gemmMR, min(hi*gemmMR, M)
		bufs := gemmBufPool.Get().(*gemmBufs)
		defer gemmBufPool.Put(bufs)
		directA, _ := g.gemmDirect(i1-i0, N)
		s := 0
		gemmSteps(0, N, K, func(jc, nc, pc, kc int) {
			for ic := i0; ic < i1; ic += gemmMC {
				g.macroKernel(bufs, bp[offs[s]:], directA, ic, min(gemmMC, i1-ic), jc, nc, pc, kc, kern)
			}
			s++
		})
	})
}

// macroKernel computes the (mc, nc) block of C at (ic, jc) over the depth
// block (pc, kc): it packs A's block into bufs (or reads A in place when
// directA), then runs the micro-kernel on every tile. bp is the packed B
// block, or nil to read B in place, with its last partial panel packed in
// bufs.bEdge. The tile adds to C unless pc is 0 and g overwrites.
func (g *gemmArgs) macroKernel(bufs *gemmBufs, bp []float32, directA bool, ic, mc, jc, nc, pc, kc int, kern microKernel) {
	acc := g.accumulate || pc > 0
	if directA {
		if r := mc % gemmMR; r != 0 {
			g.packAPanel(bufs.aEdge[:kc*gemmMR], ic+mc-r, r, pc, kc)
		}
	} else {
		bufs.a = grow(bufs.a, kc*((mc+gemmMR-1)/gemmMR*gemmMR))
		if g.transA {
			g.packABlockTrans(bufs.a, ic, mc, pc, kc)
		} else {
			for ir := 0; ir < mc; ir += gemmMR {
				g.packAPanel(bufs.a[ir*kc:(ir+gemmMR)*kc], ic+ir, min(gemmMR, mc-ir), pc, kc)
			}
		}
	}
	// Where the full panels of A are: packed, or in place.
	a, ars, aks, ps := bufs.a, 1, gemmMR, kc*gemmMR
	if directA {
		if g.transA {
			a, ars, aks, ps = g.a[pc*g.lda+ic:], 1, g.lda, gemmMR
		} else {
			a, ars, aks, ps = g.a[ic*g.lda+pc:], g.lda, 1, gemmMR*g.lda
		}
	}
	full := mc / gemmMR // full panels of MR rows
	for jr := 0; jr < nc; jr += gemmNR {
		nr := min(gemmNR, nc-jr)
		w := gemmNR // the columns the kernel computes
		if nr <= 16 {
			w = 16
		}
		var b []float32
		bks := gemmNR
		switch {
		case bp != nil:
			b = bp[jr*kc:]
		case nr < gemmNR:
			b = bufs.bEdge
		default:
			b, bks = g.b[pc*g.ldb+jc+jr:], g.ldb
		}
		c := g.c[ic*g.ldc+jc+jr:]
		switch {
		case full == 0:
		case nr == w:
			kern(full, kc, a, ars, aks, ps, b, bks, c, g.ldc, acc, w)
		case nr > 16:
			// 17 to 31 columns: the first 16 straight into C, the rest
			// through the edge tile.
			kern(full, kc, a, ars, aks, ps, b, bks, c, g.ldc, acc, 16)
			for t := 0; t < full; t++ {
				kern(1, kc, a[t*ps:], ars, aks, ps, b[16:], bks, bufs.tile, gemmNR, false, 16)
				mergeTile(c[t*gemmMR*g.ldc+16:], g.ldc, bufs.tile, gemmMR, nr-16, acc)
			}
		default:
			for t := 0; t < full; t++ {
				kern(1, kc, a[t*ps:], ars, aks, ps, b, bks, bufs.tile, gemmNR, false, w)
				mergeTile(c[t*gemmMR*g.ldc:], g.ldc, bufs.tile, gemmMR, nr, acc)
			}
		}
		if r := mc - full*gemmMR; r > 0 {
			// The last rows: their panel is packed, zero-padded to MR.
			ae := bufs.aEdge
			if !directA {
				ae = bufs.a[full*gemmMR*kc:]
			}
			kern(1, kc, ae, 1, gemmMR, 0, b, bks, bufs.tile, gemmNR, false, w)
			mergeTile(c[full*gemmMR*g.ldc:], g.ldc, bufs.tile, r, nr, acc)
		}
	}
}

// mergeTile writes the valid (mr, nr) corner of an (MR, NR) edge tile t
// into c (mr, nr) with row stride ldc, adding to it when acc is set.
func mergeTile(c []float32, ldc int, t []float32, mr, nr int, acc bool) {
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
		ti := t[i*gemmNR : i*gemmNR+nr]
		if acc {
			for j, v := range ti {
				ci[j] += v
			}
		} else {
			copy(ci, ti)
		}
	}
}

// packAPanel packs op(A)[i0:i0+mr, pc:pc+kc] into d (kc, MR), A[i,p] at
// d[p*MR+i], zero-padding rows mr..MR.
func (g *gemmArgs) packAPanel(d []float32, i0, mr, pc, kc int) {
	d = d[:kc*gemmMR]
	lda := g.lda
	if g.transA {
		// op(A)[i,p] = a[p*lda+i]: each step p is mr contiguous values.
		for p := 0; p < kc; p++ {
			dp := d[p*gemmMR : p*gemmMR+gemmMR]
			src := g.a[(pc+p)*lda+i0:]
			if mr == gemmMR {
				src = src[:gemmMR]
				dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				continue
			}
			copy(dp, src[:mr])
			clear(dp[mr:])
		}
		return
	}
	// op(A)[i,p] = a[i*lda+p]: interleave mr rows, eight steps at a time
	// in 8x8 blocks where there is assembly for it.
	if mr == gemmMR {
		done := packA6Fast(d, g.a[i0*lda+pc:], lda, kc)
		d, pc, kc = d[done*gemmMR:], pc+done, kc-done
		if kc == 0 {
			return
		}
		r0 := g.a[i0*lda+pc:][:kc]
		r1 := g.a[(i0+1)*lda+pc:][:len(r0)]
		r2 := g.a[(i0+2)*lda+pc:][:len(r0)]
		r3 := g.a[(i0+3)*lda+pc:][:len(r0)]
		r4 := g.a[(i0+4)*lda+pc:][:len(r0)]
		r5 := g.a[(i0+5)*lda+pc:][:len(r0)]
		for p := range r0 {
			dp := d[p*gemmMR : p*gemmMR+gemmMR]
			dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
		return
	}
	clear(d)
	for i := 0; i < mr; i++ {
		for p, v := range g.a[(i0+i)*lda+pc:][:kc] {
			d[p*gemmMR+i] = v
		}
	}
}

// packABlockTrans packs op(A)[ic:ic+mc, pc:pc+kc] = Aᵀ into MR-row panels
// like packAPanel, reading each stored row of A once: panel by panel, the
// rows lda apart would be fetched once per panel, and with lda a multiple of
// 4 KiB they collide in the caches.
func (g *gemmArgs) packABlockTrans(dst []float32, ic, mc, pc, kc int) {
	full := mc / gemmMR * gemmMR
	r := mc - full
	for p := 0; p < kc; p++ {
		row := g.a[(pc+p)*g.lda+ic:][:mc]
		for ir := 0; ir < full; ir += gemmMR {
			d := dst[ir*kc+p*gemmMR:][:gemmMR]
			s := row[ir : ir+gemmMR]
			d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
		}
		if r > 0 {
			d := dst[full*kc+p*gemmMR:][:gemmMR]
			copy(d, row[full:])
			clear(d[r:])
		}
	}
}

// packBPanel packs op(B)[pc:pc+kc, j0:j0+nr] into d (kc, NR), B[p,j] at
// d[p*NR+j], zero-padding columns nr..NR.
func (g *gemmArgs) packBPanel(d []float32, j0, nr, pc, kc int) {
	d = d[:kc*gemmNR]
	ldb := g.ldb
	switch {
	case g.bh != nil && g.transB:
		// op(B)[p,j] = bf16(b[j*ldb+p]): transpose nr rows, four at a time
		// (twice the speed of one at a time: each p writes 16 bytes).
		if nr < gemmNR {
			clear(d)
		}
		j := 0
		for ; j+4 <= nr; j += 4 {
			r0 := g.bh[(j0+j)*ldb+pc:][:kc]
			r1 := g.bh[(j0+j+1)*ldb+pc:][:len(r0)]
			r2 := g.bh[(j0+j+2)*ldb+pc:][:len(r0)]
			r3 := g.bh[(j0+j+3)*ldb+pc:][:len(r0)]
			for p := range r0 {
				dp := d[p*gemmNR+j : p*gemmNR+j+4]
				dp[0] = math.Float32frombits(uint32(r0[p]) << 16)
				dp[1] = math.Float32frombits(uint32(r1[p]) << 16)
				dp[2] = math.Float32frombits(uint32(r2[p]) << 16)
				dp[3] = math.Float32frombits(uint32(r3[p]) << 16)
			}
		}
		for ; j < nr; j++ {
			for p, v := range g.bh[(j0+j)*ldb+pc:][:kc] {
				d[p*gemmNR+j] = math.Float32frombits(uint32(v) << 16)
			}
		}
	case g.bh != nil:
		// op(B)[p,j] = bf16(b[p*ldb+j]).
		for p := 0; p < kc; p++ {
			dp := d[p*gemmNR : p*gemmNR+gemmNR]
			for j, v := range g.bh[(pc+p)*ldb+j0:][:nr] {
				dp[j] = math.Float32frombits(uint32(v) << 16)
			}
			clear(dp[nr:])
		}
	case g.transB:
		// op(B)[p,j] = b[j*ldb+p]: a full panel in 8x8 blocks where there
		// is assembly for it, else (and the last kc%8 steps) transpose nr
		// rows, four at a time.
		if nr < gemmNR {
			clear(d)
		} else if done := packBTransFast(d, g.b[j0*ldb+pc:], ldb, kc); done > 0 {
			for j := 0; j < gemmNR; j++ {
				for p, v := range g.b[(j0+j)*ldb+pc+done : (j0+j)*ldb+pc+kc] {
					d[(done+p)*gemmNR+j] = v
				}
			}
			return
		}
		j := 0
		for ; j+4 <= nr; j += 4 {
			r0 := g.b[(j0+j)*ldb+pc:][:kc]
			r1 := g.b[(j0+j+1)*ldb+pc:][:len(r0)]
			r2 := g.b[(j0+j+2)*ldb+pc:][:len(r0)]
			r3 := g.b[(j0+j+3)*ldb+pc:][:len(r0)]
			for p := range r0 {
				dp := d[p*gemmNR+j : p*gemmNR+j+4]
				dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
		for ; j < nr; j++ {
			for p, v := range g.b[(j0+j)*ldb+pc:][:kc] {
				d[p*gemmNR+j] = v
			}
		}
	default:
		for p := 0; p < kc; p++ {
			dp := d[p*gemmNR : p*gemmNR+gemmNR]
			src := g.b[(pc+p)*ldb+j0:]
			if nr == gemmNR {
				*(*[gemmNR]float32)(dp) = *(*[gemmNR]float32)(src)
				continue
			}
			copy(dp, src[:nr])
			clear(dp[nr:])
		}
	}
}

// gemmKernGo is the pure-Go micro-kernel: the same tiles, order of sums and
// operand layouts as the assembly ones, for other CPUs and as their twin.
func gemmKernGo(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool, w int) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc, w)
	for t := 0; t < n; t++ {
		gemmTileGo(kc, a[t*ps:], ars, aks, b, bks, c[t*gemmMR*ldc:], ldc, acc, w)
	}
}

// gemmTileGo computes one tile of gemmKernGo.
func gemmTileGo(kc int, a []float32, ars, aks int, b []float32, bks int, c []float32, ldc int, acc bool, w int) {
	var t [gemmMR][gemmNR]float32
	for p := 0; p < kc; p++ {
		bp := b[p*bks : p*bks+w]
		for i := range t {
			av := a[i*ars+p*aks]
			ti := t[i][:w]
			for j, bv := range bp {
				ti[j] += av * bv
			}
		}
	}
	for i := range t {
		ci := c[i*ldc : i*ldc+w]
		if acc {
			for j, v := range t[i][:w] {
				ci[j] += v
			}
		} else {
			copy(ci, t[i][:w])
		}
	}
}

// checkKernelArgs panics unless a micro-kernel call stays inside its slices;
// the assembly kernels run unchecked after it.
func checkKernelArgs(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, w int) {
	if n < 1 || kc < 1 || (ars != 1 && aks != 1) || (w != 16 && w != gemmNR) ||
		len(a) <= (n-1)*ps+(gemmMR-1)*ars+(kc-1)*aks ||
		len(b) < (kc-1)*bks+w ||
		len(c) < ((n-1)*gemmMR+gemmMR-1)*ldc+w {
		panic(fmt.Sprintf("kernels: gemm micro-kernel n=%d kc=%d w=%d a[%d] (ars %d, aks %d, ps %d) b[%d] (bks %d) c[%d] (ldc %d) out of range",
			n, kc, w, len(a), ars, aks, ps, len(b), bks, len(c), ldc))
	}
}
