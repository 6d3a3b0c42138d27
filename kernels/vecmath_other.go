//go:build !amd64 || purego

package kernels

// Without the amd64 assembly every vector op runs its pure-Go loop.
var useVecAVX2 = false // a variable so the tests can flip it everywhere

func expAVX2(dst, src []float32)     { panic("kernels: expAVX2 without amd64 assembly") }
func tanhAVX2(dst, src []float32)    { panic("kernels: tanhAVX2 without amd64 assembly") }
func sigmoidAVX2(dst, src []float32) { panic("kernels: sigmoidAVX2 without amd64 assembly") }

func geluTanhFwdAVX2(out, inp []float32) { panic("kernels: no vector assembly on this platform") }
func geluTanhBwdAVX2(dinp, dout, inp []float32) {
	panic("kernels: no vector assembly on this platform")
}
func siluFwdAVX2(out, inp []float32)        { panic("kernels: no vector assembly on this platform") }
func siluBwdAVX2(dinp, dout, inp []float32) { panic("kernels: no vector assembly on this platform") }
func swigluFwdAVX2(out, gate, up []float32) { panic("kernels: no vector assembly on this platform") }
func swigluBwdAVX2(dg, du, dout, gate, up []float32) {
	panic("kernels: no vector assembly on this platform")
}

func maxAVX2(x []float32) float32 { panic("kernels: no vector assembly on this platform") }
func expAffineAVX2(dst, src []float32, a, b float32) float32 {
	panic("kernels: no vector assembly on this platform")
}
func scaleAVX2(x []float32, a float32) { panic("kernels: no vector assembly on this platform") }
