//go:build !amd64 || purego

package kernels

// Without the amd64 assembly every vector op runs its pure-Go loop; the
// stubs below are never called. useVecAVX2 is a variable so the tests can
// flip it on every platform.
var useVecAVX2 = false

const noAsm = "kernels: no vector assembly on this platform"

func expAVX2(dst, src []float32)                             { panic(noAsm) }
func tanhAVX2(dst, src []float32)                            { panic(noAsm) }
func sigmoidAVX2(dst, src []float32)                         { panic(noAsm) }
func geluTanhFwdAVX2(out, inp []float32)                     { panic(noAsm) }
func geluTanhBwdAVX2(dinp, dout, inp []float32)              { panic(noAsm) }
func geluErfFwdAVX2(out, inp []float32)                      { panic(noAsm) }
func geluErfBwdAVX2(dinp, dout, inp []float32)               { panic(noAsm) }
func siluFwdAVX2(out, inp []float32)                         { panic(noAsm) }
func siluBwdAVX2(dinp, dout, inp []float32)                  { panic(noAsm) }
func swigluFwdAVX2(out, gate, up []float32)                  { panic(noAsm) }
func swigluBwdAVX2(dg, du, dout, gate, up []float32)         { panic(noAsm) }
func maxAVX2(x []float32) float32                            { panic(noAsm) }
func expAffineAVX2(dst, src []float32, a, b float32) float32 { panic(noAsm) }
func scaleAVX2(x []float32, a float32)                       { panic(noAsm) }
func sumAVX2(x []float32) float32                            { panic(noAsm) }
func sumSqDiffAVX2(x []float32, m float32) float32           { panic(noAsm) }
func normFwdAVX2(out, x, w []float32, m, r float32)          { panic(noAsm) }
func normFwdBiasAVX2(out, x, w, b []float32, m, r float32)   { panic(noAsm) }
func normBwdAVX2(d, g, w, x []float32, m, r, a, c float32)   { panic(noAsm) }
func normDwAVX2(dw, g, x []float32, m, r float32)            { panic(noAsm) }
func addToAVX2(d, g []float32)                               { panic(noAsm) }
func addAVX2(out, a, b []float32)                            { panic(noAsm) }

func adamWAVX2(p, g, m, v []float32, b1, b2, c1, c2, decay, step, rbc2, eps float32) {
	panic(noAsm)
}

func normBwdDotsAVX2(g, w, x []float32, m, r float32) (sdn, sdnn float32) { panic(noAsm) }
