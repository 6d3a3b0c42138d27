package tensor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge advises the 2 MiB-aligned pages wholly inside b for
// transparent huge pages. The advice is a hint: an error (a kernel without
// THP) leaves the 4 KiB pages, so it is ignored.
func adviseHuge(b []float32) {
	if !hugeAdvice {
		return
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), 4*len(b))
	if lo, hi := hugeSpan(uintptr(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)); lo < hi {
		_ = unix.Madvise(raw[lo:hi], unix.MADV_HUGEPAGE)
	}
}

// Mapped returns n zeroed float32 values mapped outside Go's heap, on huge
// pages where the kernel gives them, and the function that unmaps them:
// for a large short-lived buffer that should read like weights (the
// bandwidth probe's) without leaving huge-page advice on the heap. Where
// the mapping fails it falls back to make, and release does nothing.
func Mapped(n int) (b []float32, release func()) {
	raw, err := unix.Mmap(-1, 0, 4*n+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil || n == 0 {
		return make([]float32, n), func() {}
	}
	if hugeAdvice {
		_ = unix.Madvise(raw, unix.MADV_HUGEPAGE)
	}
	lo, _ := hugeSpan(uintptr(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
	b = unsafe.Slice((*float32)(unsafe.Pointer(&raw[lo])), n)
	return b, func() { _ = unix.Munmap(raw) }
}
