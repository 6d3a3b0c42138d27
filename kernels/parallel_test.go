package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelForCoversEachIndexOnce checks that the chunks tile [0, n)
// exactly, for thread counts below, at and above n, with nested calls.
func TestParallelForCoversEachIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 100} {
		for _, threads := range []int{1, 2, 3, 8} {
			hits := make([]atomic.Int32, n)
			chunks := atomic.Int32{}
			parallelFor(n, threads, func(lo, hi int) {
				chunks.Add(1)
				if lo >= hi {
					t.Errorf("n=%d threads=%d: empty chunk [%d, %d)", n, threads, lo, hi)
				}
				for i := lo; i < hi; i++ {
					// A nested call must finish even with every worker busy.
					parallelFor(3, threads, func(lo2, hi2 int) {})
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("n=%d threads=%d: index %d ran %d times", n, threads, i, h)
				}
			}
			if want := int32(min(n, threads)); chunks.Load() != want {
				t.Fatalf("n=%d threads=%d: %d chunks, want %d", n, threads, chunks.Load(), want)
			}
		}
	}
}

// TestParallelChunksClaimsEveryChunk checks more chunks than threads: each
// chunk runs once and the chunks tile [0, n).
func TestParallelChunksClaimsEveryChunk(t *testing.T) {
	for _, tc := range []struct{ n, chunks, threads int }{
		{10, 10, 2}, {10, 3, 2}, {100, 7, 3}, {5, 9, 2}, {0, 4, 2}, {6, 6, 1},
	} {
		hits := make([]atomic.Int32, tc.n)
		var calls atomic.Int32
		parallelChunks(tc.n, tc.chunks, tc.threads, func(lo, hi int) {
			calls.Add(1)
			for i := lo; i < hi; i++ {
				hits[i].Add(1)
			}
		})
		for i := range hits {
			if h := hits[i].Load(); h != 1 {
				t.Fatalf("%+v: index %d ran %d times", tc, i, h)
			}
		}
		if want := int32(min(tc.n, tc.chunks)); calls.Load() != want {
			t.Fatalf("%+v: %d calls, want %d", tc, calls.Load(), want)
		}
	}
}

// together runs a loop of two chunks that each wait, up to limit, for the
// other to start, which only two threads at once satisfy; it reports
// whether they did.
func together(limit time.Duration) bool {
	var started atomic.Int32
	var alone atomic.Bool
	parallelChunks(2, 2, 2, func(lo, hi int) {
		started.Add(1)
		for deadline := time.Now().Add(limit); started.Load() < 2; {
			if time.Now().After(deadline) {
				alone.Store(true)
				return
			}
			runtime.Gosched()
		}
	})
	return !alone.Load()
}

// TestWorkersRunTogether checks that a worker takes a job while it polls,
// after it has parked, and when the caller comes back with its next loop
// before the worker has emptied its slot of the last one (back-to-back
// loops, where a job offered only to empty slots often ran on the caller
// alone).
func TestWorkersRunTogether(t *testing.T) {
	slots := ensureWorkers(1)
	if !together(5 * time.Second) {
		t.Fatal("a chunk ran alone for 5 s: no worker took the job")
	}
	for i := 0; i < 200; i++ {
		if !together(time.Second) {
			t.Fatalf("back-to-back loop %d: a chunk ran alone for 1 s", i)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		parked := 0
		for _, w := range slots {
			if w.parked.Load() {
				parked++
			}
		}
		if parked == len(slots) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d idle workers parked after 5 s", parked, len(slots))
		}
		time.Sleep(spinWait)
	}
	if !together(5 * time.Second) {
		t.Fatal("after parking: a chunk ran alone for 5 s; the worker was not woken")
	}
}

// TestOfferBackToBack offers loop after empty loop, as a caller that comes
// straight back does: the worker must take nearly every one, though it may
// not yet have emptied its slot of the last.
func TestOfferBackToBack(t *testing.T) {
	slots := ensureWorkers(1)
	together(5 * time.Second) // the worker polls
	const loops = 2000
	took := 0
	for range loops {
		j := &parallelJob{fn: func(int, int) {}, n: 2, chunks: 2}
		j.left.Store(2)
		j.done.Add(2)
		took += offer(slots, j, 1)
		j.run()
		j.wait()
	}
	if took < loops*99/100 {
		t.Fatalf("a worker took %d of %d back-to-back loops", took, loops)
	}
}

// TestParallelForConcurrentCallers runs loops from several goroutines at
// once, some nested, so that offers race for the same slots: every index
// of every loop must run exactly once, and none may hang.
func TestParallelForConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range 300 {
				n := 1 + (it+g)%9
				hits := make([]atomic.Int32, n)
				parallelFor(n, 3, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						if i%4 == 0 {
							parallelFor(3, 3, func(int, int) {})
						}
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Errorf("goroutine %d loop %d: index %d ran %d times", g, it, i, h)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaultThreadsReadsEnv(t *testing.T) {
	t.Setenv("LOFT_THREADS", "3")
	if n := defaultThreads(); n != 3 {
		t.Fatalf("LOFT_THREADS=3 gave %d threads", n)
	}
	for _, bad := range []string{"0", "-2", "two", ""} {
		t.Setenv("LOFT_THREADS", bad)
		if n := defaultThreads(); n != runtime.GOMAXPROCS(0) {
			t.Fatalf("LOFT_THREADS=%q gave %d threads, want GOMAXPROCS %d", bad, n, runtime.GOMAXPROCS(0))
		}
	}
}

func TestSetThreads(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	SetThreads(0)
	if Threads() != 1 {
		t.Fatalf("SetThreads(0) gave %d threads, want 1", Threads())
	}
	SetThreads(2)
	var calls atomic.Int32
	ParallelFor(10, func(lo, hi int) { calls.Add(1) })
	if calls.Load() != 2 {
		t.Fatalf("ParallelFor on 2 threads made %d calls", calls.Load())
	}
}

// BenchmarkParallelForOverhead measures one empty two-way ParallelFor.
func BenchmarkParallelForOverhead(b *testing.B) {
	for b.Loop() {
		parallelFor(2, 2, func(lo, hi int) {})
	}
}
