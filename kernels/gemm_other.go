//go:build !amd64 || purego

package kernels

// gemmKernels lists the micro-kernels this machine runs: the pure-Go one.
func gemmKernels() []namedKernel { return []namedKernel{{"go", gemmKernGo}} }

// packBTransFast packs nothing: there is no assembly here.
func packBTransFast(d, b []float32, ldb, kc int) int { return 0 }

// packA6Fast packs nothing: there is no assembly here.
func packA6Fast(d, a []float32, lda, kc int) int { return 0 }
