//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run -C ../internal/asmgen ./gemm -pkg kernels -out ../../kernels/gemm_amd64.s -stubs ../../kernels/gemm_stubs_amd64.go

// fastKernel is the micro-kernel Gemm uses: AVX2/FMA assembly where the CPU
// has both, else the pure-Go twin.
var fastKernel microKernel = pickKernel()

func pickKernel() microKernel {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return gemmKernAVX2
	}
	return gemmKernGo
}

// GemmVariant names the micro-kernel Gemm runs on this machine.
func GemmVariant() string {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return "avx2-fma"
	}
	return "go"
}

// gemmKernAVX2 is the microKernel on the generated assembly.
func gemmKernAVX2(n, kc int, a []float32, ars, aks, ps int, b []float32, bks int, c []float32, ldc int, acc bool) {
	checkKernelArgs(n, kc, a, ars, aks, ps, b, bks, c, ldc)
	if ars == 1 {
		gemmKernRC(n, kc, &a[0], aks, ps, &b[0], bks, &c[0], ldc, acc)
	} else {
		gemmKernKC(n, kc, &a[0], ars, ps, &b[0], bks, &c[0], ldc, acc)
	}
}
