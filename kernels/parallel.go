package kernels

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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

// parallelJob is one parallel loop: [0, n) in chunks claimed through next
// by the caller and by any worker that picks the job up, so the caller never
// waits on a busy pool: with every worker occupied it runs all chunks
// itself, which also makes nested calls deadlock-free.
type parallelJob struct {
	fn     func(lo, hi int)
	n      int
	chunks int
	next   atomic.Int64  // next chunk to claim
	left   atomic.Int64  // chunks not yet finished
	done   chan struct{} // closed when left reaches 0
}

// run claims and runs chunks until none is left.
func (j *parallelJob) run() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		j.fn(c*j.n/j.chunks, (c+1)*j.n/j.chunks)
		if j.left.Add(-1) == 0 {
			close(j.done)
		}
	}
}

// wait returns when every chunk has finished. It spins for up to
// spinDone first: waking a parked goroutine took 100-200 microseconds on the
// (virtual) machine this was tuned on, a few percent of a 5 ms kernel, and
// the caller has nothing else to do.
func (j *parallelJob) wait() {
	for start := time.Now(); time.Since(start) < spinDone; {
		for range 64 {
			if j.left.Load() == 0 {
				return
			}
		}
	}
	<-j.done
}

// spinWait is how long an idle worker polls for the next job before it
// parks; spinDone is how long a caller polls for its chunks to finish.
const (
	spinWait = 200 * time.Microsecond
	spinDone = 2 * time.Millisecond
)

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
		go worker(p.jobs)
	}
	return p.jobs
}

// worker runs jobs from the pool's queue until the program ends. After a
// job it polls the queue for spinWait before it parks, so that the next
// loop of a sequence (GEMM's packing then multiply, a model's layers) finds
// it awake.
func worker(jobs chan *parallelJob) {
	for {
		var j *parallelJob
		for start := time.Now(); j == nil && time.Since(start) < spinWait; {
			for i := 0; i < 64 && j == nil; i++ {
				select {
				case j = <-jobs:
				default:
				}
			}
		}
		if j == nil {
			j = <-jobs
		}
		j.run()
	}
}

// parallelFor is ParallelFor on t threads.
func parallelFor(n, t int, fn func(lo, hi int)) {
	parallelChunks(n, min(n, t), t, fn)
}

// parallelChunks splits [0, n) into chunks contiguous ranges and runs
// fn(lo, hi) on each, on up to t threads (the caller and t-1 workers) that
// claim chunks one at a time; it returns when all are done.
func parallelChunks(n, chunks, t int, fn func(lo, hi int)) {
	if chunks > n {
		chunks = n
	}
	if t > chunks {
		t = chunks
	}
	if t <= 1 {
		for c := 0; c < chunks; c++ {
			fn(c*n/chunks, (c+1)*n/chunks)
		}
		return
	}
	jobs := ensureWorkers(t - 1)
	j := &parallelJob{fn: fn, n: n, chunks: chunks, done: make(chan struct{})}
	j.left.Store(int64(chunks))
	for w := 0; w < t-1; w++ {
		select {
		case jobs <- j:
		default: // queue full: the caller runs the chunk itself
		}
	}
	j.run()
	j.wait()
}
