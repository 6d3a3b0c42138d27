package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gemmCase is one Gemm call to check: sizes, flags and padding added to the
// leading dimensions (0 means tightly packed rows).
type gemmCase struct {
	M, N, K             int
	transA, transB, acc bool
	padA, padB, padC    int
	bf16                bool
}

func (cs gemmCase) String() string {
	return fmt.Sprintf("M%d_N%d_K%d_tA%v_tB%v_acc%v_pad%d.%d.%d_bf16%v",
		cs.M, cs.N, cs.K, cs.transA, cs.transB, cs.acc, cs.padA, cs.padB, cs.padC, cs.bf16)
}

// sentinel fills the elements past a slice's required length; they must
// never change.
const sentinelLen = 19

var sentinel = float32(math.Float32frombits(0x7fc0_dead)) // a NaN with a payload

// needLen is the exact number of elements a (rows, cols) matrix with
// leading dimension ld occupies.
func needLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// randMatrix returns a (rows, cols) matrix with leading dimension ld as a
// slice of exactly the required length whose capacity holds sentinels.
func randMatrix(rng *rand.Rand, rows, cols, ld int) []float32 {
	n := needLen(rows, cols, ld)
	buf := make([]float32, n+sentinelLen)
	for i := range buf[:n] {
		buf[i] = rng.Float32()*2 - 1
	}
	for i := n; i < len(buf); i++ {
		buf[i] = sentinel
	}
	return buf[:n]
}

// checkSentinels fails the test when anything past len(s) changed.
func checkSentinels(t *testing.T, name string, s []float32) {
	t.Helper()
	for i, v := range s[len(s):cap(s)] {
		if math.Float32bits(v) != math.Float32bits(sentinel) {
			t.Fatalf("%s: element %d past the end was overwritten with %v", name, len(s)+i, v)
		}
	}
}

// toBF16 rounds x to bf16 bits (round to nearest even).
func toBF16(x float32) uint16 {
	u := math.Float32bits(x)
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// checkGemmCase runs cs through gemmRun with kern on the given threads and
// compares every element of C with gemmRef, and every element outside C's
// valid region (row gaps and past the end) with its old value. It returns
// C for comparisons between runs.
func checkGemmCase(t *testing.T, cs gemmCase, kern microKernel, threads int) []float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(cs.M*1_000_003+cs.N*1009+cs.K), 7))
	ar, ac := cs.M, cs.K
	if cs.transA {
		ar, ac = cs.K, cs.M
	}
	br, bc := cs.K, cs.N
	if cs.transB {
		br, bc = cs.N, cs.K
	}
	lda, ldb, ldc := ac+cs.padA, bc+cs.padB, cs.N+cs.padC
	a := randMatrix(rng, ar, ac, lda)
	b := randMatrix(rng, br, bc, ldb)
	c0 := randMatrix(rng, cs.M, cs.N, ldc)
	var bh []uint16
	if cs.bf16 {
		// The reference sees exactly the values the bf16 path converts.
		bh = make([]uint16, len(b))
		for i, v := range b {
			bh[i] = toBF16(v)
			b[i] = math.Float32frombits(uint32(bh[i]) << 16)
		}
	}
	want := append([]float32(nil), c0...)
	gemmRef(cs.transA, cs.transB, cs.M, cs.N, cs.K, a, lda, b, ldb, want, ldc, cs.acc)

	got := append(make([]float32, 0, len(c0)+sentinelLen), c0...)
	got = append(got, c0[len(c0):cap(c0)]...)[:len(c0)]
	g := gemmArgs{transA: cs.transA, transB: cs.transB, a: a, lda: lda, b: b, ldb: ldb, c: got, ldc: ldc, accumulate: cs.acc}
	if cs.bf16 {
		g.b, g.bh = nil, bh
	}
	gemmRun(&g, cs.M, cs.N, cs.K, threads, kern)

	checkSentinels(t, "A", a)
	checkSentinels(t, "B", b)
	checkSentinels(t, "C", got)
	// Both sums are within gamma_K·Σ|a·b| of the exact one (Higham,
	// "Accuracy and Stability of Numerical Algorithms", 3.1), so they differ
	// by at most twice that; a wrong index or a missed term is far larger.
	const eps = 1.0 / (1 << 24)
	for i := 0; i < cs.M; i++ {
		for j := 0; j < cs.N; j++ {
			var mag float64
			for p := 0; p < cs.K; p++ {
				var av, bv float32
				if cs.transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if cs.transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				mag += math.Abs(float64(av) * float64(bv))
			}
			if cs.acc {
				mag += math.Abs(float64(c0[i*ldc+j]))
			}
			tol := 2 * float64(cs.K+1) * eps * mag
			g, w := float64(got[i*ldc+j]), float64(want[i*ldc+j])
			if !(math.Abs(g-w) <= tol) {
				t.Fatalf("%v threads=%d: C[%d,%d] = %v, want %v (tolerance %.3g)", cs, threads, i, j, g, w, tol)
			}
		}
		for j := cs.N; cs.N > 0 && j < ldc && i < cs.M-1; j++ {
			if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c0[i*ldc+j]) {
				t.Fatalf("%v: C[%d,%d] in the row gap changed from %v to %v", cs, i, j, c0[i*ldc+j], got[i*ldc+j])
			}
		}
	}
	return got
}

// gemmTestShapes are (M, N, K) triples around the tile and block edges, the
// in-place thresholds and the skinny LoRA shapes (r = 4, 8, 16, 64).
var gemmTestShapes = [][3]int{
	{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {1, 1, 1}, {1, 16, 1}, {6, 16, 1},
	{6, 16, 4}, {7, 17, 5}, {5, 15, 3}, {13, 33, 29}, {12, 32, gemmKC}, {12, 32, gemmKC + 1},
	{2, 3, 2*gemmKC + 7}, {gemmMC + 1, 20, 9}, {2*gemmMC + 7, 37, 11}, {25, 70, 300},
	// In-place A (N <= gemmDirectN) and B (M <= gemmDirectM), across a KC block.
	{gemmDirectM, gemmDirectN, gemmKC + 4}, {gemmDirectM + 1, gemmDirectN + 1, gemmKC + 4},
	{gemmDirectM, gemmDirectN + 1, 7}, {gemmDirectM + 1, gemmDirectN, 7}, {gemmDirectM - 1, gemmDirectN - 1, 7},
	{gemmDirectM + 7, gemmDirectNTrans, gemmKC + 4}, {gemmMC + 5, gemmDirectNTrans + 1, 9},
	{1024, gemmDirectNTrans + 8, 9}, // Aᵀ rows 4 KiB apart (unpadded) or not
	// LoRA ranks r = 4, 8, 16, 64 on either side.
	{64, 48, 4}, {64, 4, 48}, {100, 8, 70}, {70, 16, 100}, {16, 100, 64}, {64, 100, 16},
	{20, gemmNC + 20, 3},          // more than one NC block
	{130, 200, 20}, {300, 130, 5}, // threads split columns; rows (C tall)
	// A last B panel of 17 to 31 columns: 16 straight into C, the rest
	// through the edge tile; with odd and even panel counts of A.
	{13, 20, 9}, {25, 56, 300}, {gemmMC + 6, 49, 7}, {gemmDirectM + 6, 81, 11},
}

// TestGemmKernelsSameBits runs every assembly kernel the machine has on the
// test shapes and checks they give the same bits: they sum in the same
// order, in FMAs, however they group the panels.
func TestGemmKernelsSameBits(t *testing.T) {
	var asm []namedKernel
	for _, k := range gemmKernels() {
		if k.name != "go" {
			asm = append(asm, k)
		}
	}
	if len(asm) < 2 {
		t.Skipf("%d assembly kernels on this machine: nothing to compare", len(asm))
	}
	for _, sh := range gemmTestShapes {
		for flags := 0; flags < 8; flags++ {
			cs := gemmCase{M: sh[0], N: sh[1], K: sh[2], transA: flags&1 != 0, transB: flags&2 != 0, acc: flags&4 != 0, padA: 1}
			ref := checkGemmCase(t, cs, asm[0].k, 2)
			for _, k := range asm[1:] {
				got := checkGemmCase(t, cs, k.k, 2)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%s: %s gives C[%d] = %v, %s %v", cs, k.name, i, got[i], asm[0].name, ref[i])
					}
				}
			}
		}
	}
}

func TestGemmMatchesReference(t *testing.T) {
	for _, kn := range gemmKernels() {
		for _, sh := range gemmTestShapes {
			for flags := 0; flags < 8; flags++ {
				for _, pad := range []int{0, 3} {
					cs := gemmCase{M: sh[0], N: sh[1], K: sh[2],
						transA: flags&1 != 0, transB: flags&2 != 0, acc: flags&4 != 0,
						padA: pad, padB: 2 * pad, padC: pad}
					t.Run(kn.name+"/"+cs.String(), func(t *testing.T) {
						c1 := checkGemmCase(t, cs, kn.k, 1)
						c2 := checkGemmCase(t, cs, kn.k, 2)
						// Each C element gets the same sums in the same
						// order on any number of threads.
						for i := range c1 {
							if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
								t.Fatalf("C[%d] = %v on 1 thread, %v on 2", i, c1[i], c2[i])
							}
						}
					})
				}
			}
		}
	}
}

func TestGemmBF16MatchesReference(t *testing.T) {
	for _, sh := range [][3]int{{1, 1, 1}, {7, 17, 5}, {13, 33, 29}, {64, 16, 300}, {49, 65, 260}, {100, 40, 64}} {
		for flags := 0; flags < 8; flags++ {
			cs := gemmCase{M: sh[0], N: sh[1], K: sh[2],
				transA: flags&1 != 0, transB: flags&2 != 0, acc: flags&4 != 0, padB: 1, bf16: true}
			t.Run(cs.String(), func(t *testing.T) {
				checkGemmCase(t, cs, fastKernel, 1)
				checkGemmCase(t, cs, fastKernel, 2)
			})
		}
	}
}

// TestGemmLoRAShapes runs the benchmark shapes where one side is a LoRA rank,
// through the public API with the default threads.
func TestGemmLoRAShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("large shapes")
	}
	for _, sh := range [][3]int{{1024, 16, 768}, {1024, 768, 16}, {16, 768, 1024}} {
		for flags := 0; flags < 4; flags++ {
			cs := gemmCase{M: sh[0], N: sh[1], K: sh[2], transA: flags&1 != 0, transB: flags&2 != 0}
			t.Run(cs.String(), func(t *testing.T) { checkGemmCase(t, cs, fastKernel, 2) })
		}
	}
}

// TestGemmWrappers checks the public entry points against gemmRef on a hand
// case and a random one.
func TestGemmWrappers(t *testing.T) {
	// [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50].
	c := []float32{1, 1, 1, 1}
	MatMul(c, []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}, 2, 2, 2, false)
	if want := []float32{19, 22, 43, 50}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMul = %v, want %v", c, want)
	}
	MatMulBT(c, []float32{1, 2, 3, 4}, []float32{5, 7, 6, 8}, 2, 2, 2, true)
	if want := []float32{38, 44, 86, 100}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMulBT += = %v, want %v", c, want)
	}
	MatMulAT(c, []float32{1, 3, 2, 4}, []float32{5, 6, 7, 8}, 2, 2, 2, false)
	if want := []float32{19, 22, 43, 50}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMulAT = %v, want %v", c, want)
	}
	w := []uint16{toBF16(5), toBF16(7), toBF16(6), toBF16(8)}
	MatMulBTBF16(c, []float32{1, 2, 3, 4}, w, 2, 2, 2, false)
	if want := []float32{19, 22, 43, 50}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("MatMulBTBF16 = %v, want %v", c, want)
	}

	const M, K, N = 130, 300, 70
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := randMatrix(rng, M, K, K), randMatrix(rng, K, N, N)
	got, want := make([]float32, M*N), make([]float32, M*N)
	MatMul(got, a, b, M, K, N, false)
	gemmRef(false, false, M, N, K, a, K, b, N, want, N, false)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
			t.Fatalf("MatMul C[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestGemmPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Gemm with a short C did not panic")
		}
	}()
	Gemm(false, false, 2, 2, 2, make([]float32, 4), 2, make([]float32, 4), 2, make([]float32, 3), 2, false)
}

// FuzzGemm checks small random shapes, flags and strides against gemmRef.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(5), uint8(0), uint8(0))
	f.Add(uint8(13), uint8(33), uint8(29), uint8(7), uint8(3))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(4), uint8(1))
	f.Add(uint8(6), uint8(16), uint8(255), uint8(15), uint8(2))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pad uint8) {
		cs := gemmCase{M: int(m % 40), N: int(n % 70), K: int(k),
			transA: flags&1 != 0, transB: flags&2 != 0, acc: flags&4 != 0, bf16: flags&8 != 0,
			padA: int(pad % 4), padB: int(pad / 4 % 4), padC: int(pad / 16 % 4)}
		checkGemmCase(t, cs, fastKernel, 1+int(flags>>4)%2)
		if !cs.bf16 {
			checkGemmCase(t, cs, gemmKernGo, 2)
		}
	})
}

// TestSetGemmKernel picks each kernel by name and an unknown one, which
// must fail naming what the machine has and leave the kernel unchanged.
func TestSetGemmKernel(t *testing.T) {
	def := GemmVariant()
	defer SetGemmKernel(def)
	for _, k := range GemmKernels() {
		if err := SetGemmKernel(k); err != nil || GemmVariant() != k {
			t.Fatalf("SetGemmKernel(%q): %v, variant %s", k, err, GemmVariant())
		}
	}
	err := SetGemmKernel("sse")
	if err == nil || !strings.Contains(err.Error(), "go") || GemmVariant() != GemmKernels()[len(GemmKernels())-1] {
		t.Fatalf("SetGemmKernel(sse): %v, variant %s", err, GemmVariant())
	}
}

// TestPeakFollowsKernel checks PeakFlops measures the vectors of the GEMM
// kernel in use: none for the Go kernel, and AVX-512's (twice AVX2's
// lanes) only when that kernel is chosen.
func TestPeakFollowsKernel(t *testing.T) {
	def := GemmVariant()
	defer SetGemmKernel(def)
	for _, k := range GemmKernels() {
		SetGemmKernel(k)
		fma, flops := fmaPeakLoop()
		want := map[string]int{"go": 0, "avx2-fma": 192, "avx512": 384}[k]
		if flops != want || (fma == nil) != (want == 0) {
			t.Errorf("kernel %s: peak loop of %d FLOPs per iteration, want %d", k, flops, want)
		}
	}
}
