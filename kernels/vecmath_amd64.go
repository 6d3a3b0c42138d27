//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run -C ../internal/asmgen ./vecmath -pkg kernels -out ../../kernels/vecmath_amd64.s -stubs ../../kernels/vecmath_stubs_amd64.go

// useVecAVX2 selects the generated AVX2/FMA loops (vecmath_amd64.s) where
// the CPU has both; it is a variable so tests can compare the two paths.
var useVecAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
