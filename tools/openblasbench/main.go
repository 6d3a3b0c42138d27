//go:build openblas

// Command openblasbench times OpenBLAS's cblas_sgemm next to loft's
// kernels.Gemm on the same shapes, thread counts and operand layouts,
// interleaving the two rep by rep so that load from other processes hits
// both alike, and prints the medians and their ratio. It also prints the
// ratio of CPU times (OpenBLAS's over loft's), which other processes taking
// turns on the cores do not inflate: the calling thread's on one thread, the
// whole process's on more, where it measures work rather than speed (time a
// thread spends waiting asleep is not counted, time spent spinning is).
//
// It needs cgo and OpenBLAS (Debian: apt-get install libopenblas-dev), so it
// sits behind the openblas build tag, outside loft's default build:
//
//	go run -tags openblas ./tools/openblasbench [-threads 1,2] [-reps 7] [-variants nn,nt,tn] [-shapes MxKxN,...]
package main

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loftml/loft/kernels"
	"golang.org/x/sys/unix"
)

const defaultShapes = "1024x768x768,1024x768x3072,1024x3072x768,1024x768x8192,1024x768x16,1024x16x768"

func main() {
	// OpenBLAS's idle threads spin for 2^28 cycles after each call by
	// default, stealing a core from the loft run that follows; 2^4 keeps
	// the comparison fair. The variable is read when the library loads, so
	// set it and start again.
	if os.Getenv("OPENBLAS_THREAD_TIMEOUT") == "" {
		os.Setenv("OPENBLAS_THREAD_TIMEOUT", "4")
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, os.Environ())
		}
		fmt.Fprintln(os.Stderr, "openblasbench: re-exec:", err)
		os.Exit(1)
	}
	// One-thread runs happen on this OS thread, so its CPU clock times them.
	runtime.LockOSThread()
	threadsFlag := flag.String("threads", "1,2", "comma-separated thread counts")
	shapesFlag := flag.String("shapes", defaultShapes, "comma-separated MxKxN shapes")
	variantsFlag := flag.String("variants", "nn,nt,tn", "comma-separated layouts: nn (A·B), nt (A·Bᵀ), tn (Aᵀ·B)")
	reps := flag.Int("reps", 7, "interleaved timed reps per library; medians are reported")
	flag.Parse()

	threads, err := parseInts(*threadsFlag, ",")
	if err != nil {
		fail("-threads: %v", err)
	}
	var shapes [][]int
	for _, s := range strings.Split(*shapesFlag, ",") {
		sh, err := parseInts(s, "x")
		if err != nil || len(sh) != 3 {
			fail("-shapes: %q is not MxKxN", s)
		}
		shapes = append(shapes, sh)
	}
	if *reps < 1 {
		fail("-reps must be at least 1")
	}
	fmt.Printf("OpenBLAS %s (%s); loft kernel %s\n", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()), kernels.GemmVariant())
	fmt.Printf("%-16s %-7s %3s %12s %14s %7s %9s\n", "M x K x N", "variant", "thr", "loft GFLOP/s", "OpenBLAS GF/s", "ratio", "cpu ratio")
	for _, t := range threads {
		kernels.SetThreads(t)
		C.openblas_set_num_threads(C.int(t))
		for _, v := range strings.Split(*variantsFlag, ",") {
			for _, sh := range shapes {
				r := compare(sh[0], sh[1], sh[2], v, *reps)
				cpu := fmt.Sprintf("%.2f", r.cpuRatio)
				fmt.Printf("%-16s %-7s %3d %12.1f %14.1f %7.2f %9s\n", fmt.Sprintf("%dx%dx%d", sh[0], sh[1], sh[2]), v, t, r.loft, r.blas, r.loft/r.blas, cpu)
			}
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "openblasbench: "+format+"\n", args...)
	os.Exit(2)
}

func parseInts(s, sep string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, sep) {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// result is one shape's comparison: median wall-clock GFLOP/s of each
// library, and the ratio of OpenBLAS's median thread CPU time to loft's.
type result struct {
	loft, blas, cpuRatio float64
}

// compare times loft and OpenBLAS on one shape. variant nn is C = A·B, nt is
// A·Bᵀ with B stored (N, K), tn is Aᵀ·B with A stored (K, M); all row-major.
func compare(M, K, N int, variant string, reps int) result {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float32, M*K), make([]float32, K*N)
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	c := make([]float32, M*N)
	transA, transB := variant == "tn", variant == "nt"
	lda, ldb := K, N
	if transA {
		lda = M
	}
	if transB {
		ldb = K
	}
	tA, tB := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		tA = C.CblasTrans
	}
	if transB {
		tB = C.CblasTrans
	}
	runLoft := func() {
		kernels.Gemm(transA, transB, M, N, K, a, lda, b, ldb, c, N, false)
	}
	runBLAS := func() {
		C.cblas_sgemm(C.CblasRowMajor, tA, tB, C.blasint(M), C.blasint(N), C.blasint(K),
			1, (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
			0, (*C.float)(&c[0]), C.blasint(N))
	}
	// Warm up both, then size reps to about 50 ms of products.
	runLoft()
	runBLAS()
	start := time.Now()
	runLoft()
	iters := max(1, int(50*time.Millisecond/max(time.Since(start), time.Microsecond)))
	lt, bt := make([]float64, reps), make([]float64, reps)
	lc, bc := make([]float64, reps), make([]float64, reps)
	// One untimed call starts each timed rep: the library's threads
	// may have gone to sleep while the other library ran, and waking them
	// is not what the comparison is about. Both get the same treatment.
	for r := 0; r < reps; r++ {
		runLoft()
		lt[r], lc[r] = timeIt(runLoft, iters)
		runBLAS()
		bt[r], bc[r] = timeIt(runBLAS, iters)
	}
	flops := 2 * float64(M) * float64(N) * float64(K) / 1e9
	return result{loft: flops / median(lt), blas: flops / median(bt), cpuRatio: median(bc) / median(lc)}
}

// timeIt returns the mean wall-clock and thread CPU seconds of one call of
// f over iters calls.
func timeIt(f func(), iters int) (wall, cpu float64) {
	clock := int32(unix.CLOCK_THREAD_CPUTIME_ID)
	if kernels.Threads() > 1 {
		clock = unix.CLOCK_PROCESS_CPUTIME_ID
	}
	c0 := cpuTime(clock)
	start := time.Now()
	for range iters {
		f()
	}
	wall = time.Since(start).Seconds() / float64(iters)
	return wall, (cpuTime(clock) - c0) / float64(iters)
}

// cpuTime reads a CPU-time clock in seconds.
func cpuTime(clock int32) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
