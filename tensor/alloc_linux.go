package tensor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge advises the 2 MiB-aligned pages wholly inside b for
// transparent huge pages. The advice is a hint: an error (a kernel without
// THP) leaves the 4 KiB pages, so it is ignored.
func adviseHuge(b []float32) {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), 4*len(b))
	if lo, hi := hugeSpan(uintptr(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)); lo < hi {
		_ = unix.Madvise(raw[lo:hi], unix.MADV_HUGEPAGE)
	}
}
