package tensor

import (
	"os"
	"sync"
	"unsafe"
)

// hugeMin is the smallest buffer Make advises for huge pages: below a few
// 2 MiB pages the advice covers little of it.
const hugeMin = 4 << 20

// hugePage is the size of an x86-64 (and arm64 4K-granule) transparent
// huge page.
const hugePage = 2 << 20

// Make returns n zeroed float32 values, as make does, for a large buffer
// that lives as long as a model and that decoding streams through every
// token: a weight. On Linux the whole 2 MiB pages inside a buffer of at
// least 4 MiB are advised as transparent huge pages (madvise
// MADV_HUGEPAGE; honoured where /sys/kernel/mm/transparent_hugepage/enabled
// is "always" or "madvise"), before anything touches them where Go's heap
// gives fresh memory. Go's heap asks for none, and streaming through 4 KiB
// pages costs a TLB miss every 4 KiB: SmolLM-135M decoded 4.1-7.5% faster
// with its weights on huge pages when this machine's memory was fast (78-81
// GB/s), 1.9-2.6% when it was slow. The advice outlives the buffer in Go's
// heap, and faults in advised memory may wait for the kernel to compact
// it, so short-lived buffers should not use Make (see Mapped), and
// LOFT_HUGEPAGES=0 turns the advice off.
func Make(n int) []float32 {
	b := make([]float32, n)
	if 4*n >= hugeMin {
		adviseHuge(b)
	}
	return b
}

// hugeAdvice is whether Make, Weights and Mapped advise huge pages:
// unless LOFT_HUGEPAGES is "0".
var hugeAdvice = os.Getenv("LOFT_HUGEPAGES") != "0"

// hugeSpan returns the offsets [lo, hi) of the 2 MiB-aligned pages wholly
// inside the n bytes at address p; lo >= hi when there is none.
func hugeSpan(p uintptr, n int) (lo, hi int) {
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(n)) &^ (hugePage - 1)
	if end <= start {
		return 0, 0
	}
	return int(start - p), int(end - p)
}

// chunkFloats is the size of the chunks Weights carves: 32 MiB, sixteen
// huge pages.
const chunkFloats = 8 << 20

// weightArena is the rest of the chunk Weights is carving.
var weightArena struct {
	sync.Mutex
	rest []float32
}

// Weights returns n zeroed float32 values for a model weight, on huge
// pages where Make would give them. A model's matrices are mostly smaller
// than a huge page's worth of alignment lets Make cover (SmolLM-135M's are
// 0.4-3.4 MiB), so Weights carves them one after another, 64-byte aligned,
// out of shared 32 MiB chunks whose pages are all advised; a weight over a
// quarter chunk gets its own Make, and one under 64 KiB (a norm, a bias) a
// plain make. A chunk lives as long as any weight carved from it, so
// Weights is for buffers that live as long as their model.
func Weights(n int) []float32 {
	switch {
	case 4*n < 64<<10:
		return make([]float32, n)
	case n > chunkFloats/4:
		return Make(n)
	}
	a := &weightArena
	a.Lock()
	defer a.Unlock()
	if len(a.rest) < n {
		a.rest = hugeChunk()
	}
	w := a.rest[:n:n]
	a.rest = a.rest[min((n+15)&^15, len(a.rest)):]
	return w
}

// hugeChunk returns chunkFloats zeroed values starting on a 2 MiB boundary,
// every page of them advised for huge pages.
func hugeChunk() []float32 {
	b := make([]float32, chunkFloats+hugePage/4)
	lo, _ := hugeSpan(uintptr(unsafe.Pointer(unsafe.SliceData(b))), 4*len(b))
	b = b[lo/4 : lo/4+chunkFloats]
	adviseHuge(b)
	return b
}
