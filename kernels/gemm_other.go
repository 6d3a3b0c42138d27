//go:build !amd64 || purego

package kernels

// fastKernel is the micro-kernel Gemm uses: the pure-Go one here.
var fastKernel microKernel = gemmKernGo

// GemmVariant names the micro-kernel Gemm runs on this machine.
func GemmVariant() string { return "go" }
