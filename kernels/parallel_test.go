package kernels

import (
	"runtime"
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

// TestWorkersRunTogether checks that a worker takes a job both while it
// polls and after it has parked: each of two chunks waits for the other
// to start, which only two threads at once can satisfy.
func TestWorkersRunTogether(t *testing.T) {
	slots := ensureWorkers(1)
	for _, idle := range []time.Duration{0, 10 * spinWait} {
		// Earlier tests ran more workers than cores: a worker not yet
		// scheduled since can still hold a finished job in its slot,
		// and a job is offered only to empty slots.
		for i := 0; i < len(slots); {
			if slots[i].job.Load() == nil {
				i++
			} else {
				runtime.Gosched()
			}
		}
		time.Sleep(idle)
		var started atomic.Int32
		var alone atomic.Bool
		parallelChunks(2, 2, 2, func(lo, hi int) {
			started.Add(1)
			for deadline := time.Now().Add(5 * time.Second); started.Load() < 2; {
				if time.Now().After(deadline) {
					alone.Store(true)
					return
				}
				runtime.Gosched()
			}
		})
		if alone.Load() {
			t.Fatalf("after %v idle: a chunk ran alone for 5 s; no worker took the job", idle)
		}
	}
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
