package kernels

import (
	"os"
	"runtime"
	"strconv"
	"sync"
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
// runs fn(lo, hi) on each, returning when all are done.
func ParallelFor(n int, fn func(lo, hi int)) {
	t := Threads()
	if t > n {
		t = n
	}
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		lo, hi := w*n/t, (w+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
