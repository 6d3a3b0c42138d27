//go:build !linux

package tensor

// adviseHuge does nothing where there is no madvise(MADV_HUGEPAGE).
func adviseHuge([]float32) {}

// Mapped returns n zeroed float32 values from make, and a release that
// does nothing, where there is no mmap to map them with.
func Mapped(n int) (b []float32, release func()) { return make([]float32, n), func() {} }
