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
	next   atomic.Int64   // next chunk to claim
	left   atomic.Int64   // chunks not yet finished
	done   sync.WaitGroup // one count per chunk, for a caller that stops spinning
}

// run claims and runs chunks until none is left.
func (j *parallelJob) run() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		j.fn(c*j.n/j.chunks, (c+1)*j.n/j.chunks)
		j.left.Add(-1)
		j.done.Done()
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
	j.done.Wait()
}

// spinWait is how long an idle worker polls for the next job before it
// parks; spinDone is how long a caller polls for its chunks to finish.
const (
	spinWait = 200 * time.Microsecond
	spinDone = 2 * time.Millisecond
)

// workerSlot is where one persistent worker takes its jobs: the caller
// stores a job into the slot when it is empty or holds a finished job, and
// the worker, polling it, runs the job and empties the slot unless a new
// job replaced it meanwhile. A slot is 64 bytes, a size class the heap
// aligns to 64, so that a worker polling its slot does not slow the stores
// into the others. A channel did the same hand-off in 1.0-1.5 µs (its
// send, and allocating it), 2-4% of decoding's 151 parallel calls per
// token.
type workerSlot struct {
	job    atomic.Pointer[parallelJob]
	parked atomic.Bool   // the worker has stopped polling and waits on wake
	wake   chan struct{} // capacity 1
	_      [40]byte
}

// workerPool holds the persistent workers. slots is replaced, never
// changed, when workers are added, so callers read it without the lock.
var workerPool struct {
	mu    sync.Mutex
	slots atomic.Pointer[[]*workerSlot]
}

// ensureWorkers starts workers until at least n are running and returns
// their slots.
func ensureWorkers(n int) []*workerSlot {
	p := &workerPool
	if s := p.slots.Load(); s != nil && len(*s) >= n {
		return *s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var slots []*workerSlot
	if s := p.slots.Load(); s != nil {
		slots = *s
	}
	if len(slots) >= n {
		return slots
	}
	grown := append([]*workerSlot(nil), slots...)
	for len(grown) < n {
		w := &workerSlot{wake: make(chan struct{}, 1)}
		grown = append(grown, w)
		go w.work()
	}
	p.slots.Store(&grown)
	return grown
}

// work runs the jobs stored in the slot until the program ends. After a
// job it polls the slot for spinWait before it parks, so that the next
// loop of a sequence (GEMM's packing then multiply, a model's layers)
// finds it awake.
func (w *workerSlot) work() {
	for {
		j := w.job.Load()
		for start := time.Now(); j == nil && time.Since(start) < spinWait; {
			for i := 0; i < 64 && j == nil; i++ {
				j = w.job.Load()
			}
		}
		if j == nil {
			// Park. A caller stores its job before it reads parked, and
			// the worker sets parked before it reads the job again, so
			// one of the two sees the other. When both do, a wake-up stays
			// pending and the next park returns at once: the worker polls
			// once more, which is harmless.
			w.parked.Store(true)
			if j = w.job.Load(); j == nil {
				<-w.wake
			}
			w.parked.Store(false)
			continue
		}
		j.run()
		w.job.CompareAndSwap(j, nil) // fails when offer put a new job in
	}
}

// offer hands j to up to n idle workers among slots: a slot that is empty,
// or whose job has finished. The worker of a finished job may not have
// emptied its slot yet when the caller, back from that job, offers its
// next one; waiting for an empty slot then left the whole loop to the
// caller. A busy worker (running another job, as in a nested loop) is
// passed over: the caller runs what nobody else claims. It returns how many
// workers took j.
func offer(slots []*workerSlot, j *parallelJob, n int) int {
	took := 0
	for _, w := range slots {
		if took == n {
			break
		}
		for {
			cur := w.job.Load()
			if cur != nil && cur.left.Load() != 0 {
				break // busy
			}
			if !w.job.CompareAndSwap(cur, j) {
				continue // emptied or taken meanwhile: look again
			}
			took++
			if w.parked.Load() {
				select {
				case w.wake <- struct{}{}:
				default: // a wake-up is already pending
				}
			}
			break
		}
	}
	return took
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
	slots := ensureWorkers(t - 1)
	j := &parallelJob{fn: fn, n: n, chunks: chunks}
	j.left.Store(int64(chunks))
	j.done.Add(chunks)
	offer(slots, j, t-1)
	j.run()
	j.wait()
}
