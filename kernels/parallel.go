package kernels

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// threads is the number of workers kernels use: LOFT_THREADS when set to a
// positive integer, else GOMAXPROCS. SetThreads overrides it.
var threads = defaultThreads()

var threadsMu sync.Mutex

func defaultThreads() int {
	if v := os.Getenv("LOFT_THREADS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return runtime.GOMAXPROCS(0)
}

// Threads returns the number of threads kernels run on.
func Threads() int {
	threadsMu.Lock()
	defer threadsMu.Unlock()
	return threads
}

// SetThreads sets the number of threads kernels run on (at least 1).
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	threadsMu.Lock()
	threads = n
	threadsMu.Unlock()
}

// ParallelFor splits [0, n) into at most Threads() contiguous chunks and
// runs fn(lo, hi) on each, returning when all are done. The chunks run on a
// pool of long-lived worker goroutines and on the caller; fn may itself call
// ParallelFor.
func ParallelFor(n int, fn func(lo, hi int)) {
	parallelFor(n, Threads(), fn)
}

// parallelJob is one ParallelFor call: chunks are claimed through next by
// the caller and by any worker that picks the job up, so the caller never
// waits on a busy pool: with every worker occupied it runs all chunks
// itself, which also makes nested calls deadlock-free.
type parallelJob struct {
	fn   func(lo, hi int)
	n, t int
	next atomic.Int64
	wg   sync.WaitGroup
}

// run claims and runs chunks until none is left.
func (j *parallelJob) run() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.t {
			return
		}
		j.fn(c*j.n/j.t, (c+1)*j.n/j.t)
		j.wg.Done()
	}
}

// workerPool holds the persistent workers; jobs is where they wait.
var workerPool struct {
	mu      sync.Mutex
	started int
	jobs    chan *parallelJob
}

// ensureWorkers starts workers until at least n are running.
func ensureWorkers(n int) chan *parallelJob {
	p := &workerPool
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jobs == nil {
		p.jobs = make(chan *parallelJob, 256)
	}
	for ; p.started < n; p.started++ {
		go func(jobs chan *parallelJob) {
			for j := range jobs {
				j.run()
			}
		}(p.jobs)
	}
	return p.jobs
}

// parallelFor is ParallelFor on t threads.
func parallelFor(n, t int, fn func(lo, hi int)) {
	if t > n {
		t = n
	}
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	jobs := ensureWorkers(t - 1)
	j := &parallelJob{fn: fn, n: n, t: t}
	j.wg.Add(t)
	for w := 0; w < t-1; w++ {
		select {
		case jobs <- j:
		default: // queue full: the caller runs the chunk itself
		}
	}
	j.run()
	j.wg.Wait()
}
