// Command vecmath generates kernels/vecmath_amd64.s, the AVX2/FMA loops for
// loft's element-wise transcendental maths. Run it through
// `go generate ./kernels/`.
//
// Every routine takes float32 slices whose length is a multiple of 8 (the
// Go wrappers in kernels/vecmath.go run the tail in Go) and processes one
// ymm register of 8 floats per iteration. All build on one exp:
//
//	clamp x to [expLo, expHi] (min/max ordered so NaN passes through)
//	n = round(x·log2 e);  r = x - n·ln2Hi - n·ln2Lo   (Cody–Waite)
//	e^r ≈ 1 + r + r²·P(r), P of degree 5 (Cephes expf coefficients)
//	e^x = e^r·2^n, with 2^n built in the exponent bits; n = 128 is split
//	as 2·2^127 so the top of the range stays finite
//	x > expHi gives +Inf, x < expLo gives 0
//
// the same algorithm as exp32 in kernels/vecmath.go, which is its reference.
package main

import (
	"flag"
	"math"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Constants, each replicated over 32 bytes so it can be a ymm memory
// operand. The values match kernels/vecmath.go.
var (
	cExpHi, cExpLo, cLog2e, cLn2Hi, cLn2Lo operand.Mem
	cP                                     [6]operand.Mem
	cOne, cTwo, cHalf, cInf, c127f         operand.Mem
	c127i, cAbs, cSign                     operand.Mem
	cTanhTiny                              operand.Mem
	cTanhT                                 [5]operand.Mem
	cGeluA, cGeluA3, cSqrt2Pi, c2Sqrt2Pi   operand.Mem
	cNegInf                                operand.Mem
	cErfPS, cInvS2P, cNegHalf              operand.Mem
	cErfA                                  [5]operand.Mem
)

func vconst(name string, bits uint32) operand.Mem {
	m := build.GLOBL(name, attr.RODATA|attr.NOPTR)
	for i := 0; i < 8; i++ {
		build.DATA(4*i, operand.U32(bits))
	}
	return m
}

func fconst(name string, v float64) operand.Mem {
	return vconst(name, math.Float32bits(float32(v)))
}

func constants() {
	cExpHi = fconst("vmExpHi", 88.72283935546875)
	cExpLo = fconst("vmExpLo", -87.33654022216797)
	cLog2e = fconst("vmLog2e", 1.44269504088896341)
	cLn2Hi = fconst("vmLn2Hi", 0.693359375)
	cLn2Lo = fconst("vmLn2Lo", -2.12194440e-4)
	for i, p := range []float64{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		cP[i] = fconst("vmExpP"+string(rune('0'+i)), p)
	}
	cOne = fconst("vmOne", 1)
	cTwo = fconst("vmTwo", 2)
	cHalf = fconst("vmHalf", 0.5)
	cInf = vconst("vmInf", 0x7f800000)
	cNegInf = vconst("vmNegInf", 0xff800000)
	c127f = fconst("vm127f", 127)
	c127i = vconst("vm127i", 127)
	cAbs = vconst("vmAbs", 0x7fffffff)
	cSign = vconst("vmSign", 0x80000000)
	cTanhTiny = fconst("vmTanhTiny", 0.3)
	for i, c := range []float64{-1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925} {
		cTanhT[i] = fconst("vmTanhT"+string(rune('0'+i)), c)
	}
	cGeluA = fconst("vmGeluA", 0.044715)
	cGeluA3 = fconst("vmGeluA3", 3*0.044715)
	cSqrt2Pi = fconst("vmSqrt2Pi", 0.7978845608028654)
	c2Sqrt2Pi = fconst("vm2Sqrt2Pi", 2*0.7978845608028654)
	cErfPS = fconst("vmErfPS", 0.3275911*0.7071067811865476)
	for i, a := range []float64{0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429} {
		cErfA[i] = fconst("vmErfA"+string(rune('1'+i)), a)
	}
	cInvS2P = fconst("vmInvS2P", 0.3989422804014327)
	cNegHalf = fconst("vmNegHalf", -0.5)
}

// normCDF returns Φ(x) and e^{-x²/2} in fresh registers, by Abramowitz &
// Stegun 7.1.26 as normCDF32 in kernels/gelu.go.
func normCDF(x reg.VecVirtual) (cdf, e reg.VecVirtual) {
	a := build.YMM()
	build.VANDPS(cAbs, x, a)
	t := bcast(cOne)
	build.VFMADD132PS(cErfPS, t, a) // a = p·|x|/√2 + 1
	build.VDIVPS(a, t, t)           // t = 1/a
	h := build.YMM()
	build.VMULPS(x, x, h)
	build.VMULPS(cNegHalf, h, h)
	e = exp(h)
	q := bcast(cErfA[4])
	for k := 3; k >= 0; k-- {
		build.VFMADD213PS(cErfA[k], t, q)
	}
	build.VMULPS(t, q, q)
	build.VMULPS(cHalf, q, q)
	build.VMULPS(e, q, q) // Φ(-|x|)
	cdf = bcast(cOne)
	build.VSUBPS(q, cdf, cdf)
	build.VBLENDVPS(x, q, cdf, cdf) // sign bit of x set: Φ(x) = Φ(-|x|)
	return cdf, e
}

// bcast loads a constant into a fresh register.
func bcast(c operand.Mem) reg.VecVirtual {
	y := build.YMM()
	build.VMOVUPS(c, y)
	return y
}

// exp returns a fresh register with e^x; x is not changed.
func exp(x reg.VecVirtual) reg.VecVirtual {
	xc := build.YMM()
	t := bcast(cExpHi)
	build.VMINPS(x, t, xc) // xc = hi < x ? hi : x (NaN stays)
	build.VMOVUPS(cExpLo, t)
	build.VMAXPS(xc, t, xc) // xc = lo > xc ? lo : xc
	n := build.YMM()
	build.VMULPS(cLog2e, xc, n)
	build.VROUNDPS(operand.U8(0), n, n) // nearest even
	build.VFNMADD231PS(cLn2Hi, n, xc)   // xc -= n·ln2Hi
	build.VFNMADD231PS(cLn2Lo, n, xc)   // r = xc - n·ln2Lo
	p := bcast(cP[0])
	for i := 1; i < 6; i++ {
		build.VFMADD213PS(cP[i], xc, p) // p = p·r + P[i]
	}
	r2 := build.YMM()
	build.VMULPS(xc, xc, r2)
	build.VFMADD213PS(xc, r2, p) // p = p·r² + r
	build.VADDPS(cOne, p, p)
	// n > 127 only for n = 128: p *= 1 + (n - min(n, 127)), n = min(n, 127).
	build.VMOVUPS(c127f, t)
	build.VMINPS(n, t, t)
	build.VSUBPS(t, n, n) // n - min(n, 127) in {0, 1}
	build.VFMADD231PS(n, p, p)
	build.VCVTPS2DQ(t, t)
	build.VPADDD(c127i, t, t)
	build.VPSLLD(operand.U8(23), t, t)
	build.VMULPS(t, p, p)
	// Out of range: +Inf above expHi, 0 below expLo.
	build.VCMPPS(operand.U8(0x1e), cExpHi, x, t) // x > hi (ordered)
	build.VBLENDVPS(t, cInf, p, p)
	build.VCMPPS(operand.U8(0x11), cExpLo, x, t) // x < lo (ordered)
	build.VANDNPS(p, t, p)
	return p
}

// recip1p returns 1/(1+e) in a fresh register: with e = exp(-x) this is
// the logistic sigmoid.
func recip1p(e reg.VecVirtual) reg.VecVirtual {
	build.VADDPS(cOne, e, e)
	s := bcast(cOne)
	build.VDIVPS(e, s, s)
	return s
}

// sigmoid returns σ(x) = 1/(1+e^-x) in a fresh register.
func sigmoid(x reg.VecVirtual) reg.VecVirtual {
	nx := build.YMM()
	build.VXORPS(cSign, x, nx)
	return recip1p(exp(nx))
}

// elementwise emits a function over slices (all of the first slice's
// length, a multiple of 8): body gets the address of element i in each
// slice and emits the work for 8 elements.
func elementwise(name, sig, doc string, slices []string, body func(at []func() operand.Mem)) {
	build.TEXT(name, build.NOSPLIT, sig)
	build.Pragma("noescape")
	build.Doc(doc)
	ptrs := make([]reg.Register, len(slices))
	for i, s := range slices {
		ptrs[i] = build.Load(build.Param(s).Base(), build.GP64())
	}
	n := build.Load(build.Param(slices[0]).Len(), build.GP64())
	i := build.GP64()
	build.XORQ(i, i)
	build.Label(name + "_loop")
	build.CMPQ(i, n)
	build.JAE(operand.LabelRef(name + "_done"))
	at := make([]func() operand.Mem, len(slices))
	for k, p := range ptrs {
		at[k] = func() operand.Mem { return operand.Mem{Base: p, Index: i, Scale: 4} }
	}
	body(at)
	build.ADDQ(operand.U8(8), i)
	build.JMP(operand.LabelRef(name + "_loop"))
	build.Label(name + "_done")
	build.VZEROUPPER()
	build.RET()
}

func load(m operand.Mem) reg.VecVirtual {
	y := build.YMM()
	build.VMOVUPS(m, y)
	return y
}

// accumulate adds v to the floats at m.
func accumulate(m operand.Mem, v reg.VecVirtual) {
	build.VADDPS(m, v, v)
	build.VMOVUPS(v, m)
}

func main() {
	flag.Parse()
	build.ConstraintExpr("amd64,!purego")
	constants()

	elementwise("expAVX2", "func(dst, src []float32)", "expAVX2 writes dst = e^src.", []string{"dst", "src"},
		func(at []func() operand.Mem) {
			build.VMOVUPS(exp(load(at[1]())), at[0]())
		})

	elementwise("sigmoidAVX2", "func(dst, src []float32)", "sigmoidAVX2 writes dst = 1/(1+e^-src).", []string{"dst", "src"},
		func(at []func() operand.Mem) {
			build.VMOVUPS(sigmoid(load(at[1]())), at[0]())
		})

	elementwise("tanhAVX2", "func(dst, src []float32)",
		"tanhAVX2 writes dst = tanh(src): sign(x)·(1 - 2/(e^{2|x|}+1)), and the Taylor series below |x| = 0.3.",
		[]string{"dst", "src"},
		func(at []func() operand.Mem) {
			x := load(at[1]())
			a := build.YMM()
			build.VANDPS(cAbs, x, a)
			a2 := build.YMM()
			build.VADDPS(a, a, a2)
			e := exp(a2)
			t := recip1p(e) // 1/(e+1)
			build.VADDPS(t, t, t)
			one := bcast(cOne)
			build.VSUBPS(t, one, t) // 1 - 2/(e+1)
			// Taylor: x·(1 + x²·(T3 + x²·(T5 + ...)))
			x2 := build.YMM()
			build.VMULPS(x, x, x2)
			p := bcast(cTanhT[4])
			for k := 3; k >= 0; k-- {
				build.VFMADD213PS(cTanhT[k], x2, p)
			}
			build.VFMADD213PS(one, x2, p)
			build.VMULPS(a, p, p) // tanh(|x|) near 0
			m := build.YMM()
			build.VCMPPS(operand.U8(0x11), cTanhTiny, a, m) // |x| < 0.3
			build.VBLENDVPS(m, p, t, t)
			build.VANDPS(cSign, x, m)
			build.VORPS(m, t, t) // copy the sign of x
			build.VMOVUPS(t, at[0]())
		})

	// GELU, tanh form: x·σ(2u), u = sqrt(2/π)·(x + 0.044715·x³).
	geluS := func(x reg.VecVirtual) (s, x2 reg.VecVirtual) {
		x2 = build.YMM()
		build.VMULPS(x, x, x2)
		u := bcast(cGeluA)
		build.VFMADD213PS(cOne, x2, u) // 1 + a·x²
		build.VMULPS(x, u, u)
		build.VMULPS(c2Sqrt2Pi, u, u) // 2u
		return sigmoid(u), x2
	}
	elementwise("geluTanhFwdAVX2", "func(out, inp []float32)", "geluTanhFwdAVX2 writes out = gelu_tanh(inp) = x·σ(2u).",
		[]string{"out", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[1]())
			s, _ := geluS(x)
			build.VMULPS(x, s, s)
			build.VMOVUPS(s, at[0]())
		})
	elementwise("geluTanhBwdAVX2", "func(dinp, dout, inp []float32)",
		"geluTanhBwdAVX2 adds dout·(s + 2x·s·(1-s)·u') to dinp, s = σ(2u), u' = sqrt(2/π)·(1 + 3a·x²).",
		[]string{"dinp", "dout", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[2]())
			s, x2 := geluS(x)
			du := bcast(cGeluA3)
			build.VFMADD213PS(cOne, x2, du)
			build.VMULPS(cSqrt2Pi, du, du)
			t := bcast(cOne)
			build.VSUBPS(s, t, t) // 1 - s
			build.VMULPS(s, t, t)
			build.VMULPS(x, t, t)
			build.VMULPS(du, t, t)
			build.VFMADD132PS(cTwo, s, t) // t = 2t + s
			d := load(at[0]())
			build.VFMADD231PS(at[1](), t, d) // d += dout·t
			build.VMOVUPS(d, at[0]())
		})

	elementwise("geluErfFwdAVX2", "func(out, inp []float32)", "geluErfFwdAVX2 writes out = x·Φ(x).",
		[]string{"out", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[1]())
			c, _ := normCDF(x)
			build.VMULPS(x, c, c)
			build.VMOVUPS(c, at[0]())
		})
	elementwise("geluErfBwdAVX2", "func(dinp, dout, inp []float32)", "geluErfBwdAVX2 adds dout·(Φ(x) + x·φ(x)) to dinp.",
		[]string{"dinp", "dout", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[2]())
			c, e := normCDF(x)
			build.VMULPS(cInvS2P, e, e)
			build.VFMADD231PS(x, e, c) // c += φ(x)·x
			d := load(at[0]())
			build.VFMADD231PS(at[1](), c, d)
			build.VMOVUPS(d, at[0]())
		})

	// siluGrad returns s·(1 + x·(1-s)) given s = σ(x).
	siluGrad := func(x, s reg.VecVirtual) reg.VecVirtual {
		t := bcast(cOne)
		build.VSUBPS(s, t, t)
		build.VFMADD213PS(cOne, x, t) // 1 + x·(1-s)
		build.VMULPS(s, t, t)
		return t
	}
	elementwise("siluFwdAVX2", "func(out, inp []float32)", "siluFwdAVX2 writes out = x·σ(x).", []string{"out", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[1]())
			s := sigmoid(x)
			build.VMULPS(x, s, s)
			build.VMOVUPS(s, at[0]())
		})
	elementwise("siluBwdAVX2", "func(dinp, dout, inp []float32)", "siluBwdAVX2 adds dout·σ(x)·(1 + x·(1-σ(x))) to dinp.",
		[]string{"dinp", "dout", "inp"},
		func(at []func() operand.Mem) {
			x := load(at[2]())
			t := siluGrad(x, sigmoid(x))
			d := load(at[0]())
			build.VFMADD231PS(at[1](), t, d)
			build.VMOVUPS(d, at[0]())
		})
	elementwise("swigluFwdAVX2", "func(out, gate, up []float32)", "swigluFwdAVX2 writes out = silu(gate)·up.",
		[]string{"out", "gate", "up"},
		func(at []func() operand.Mem) {
			x := load(at[1]())
			s := sigmoid(x)
			build.VMULPS(x, s, s)
			build.VMULPS(at[2](), s, s)
			build.VMOVUPS(s, at[0]())
		})
	elementwise("swigluBwdAVX2", "func(dg, du, dout, gate, up []float32)",
		"swigluBwdAVX2 adds dout·up·silu'(gate) to dg and dout·silu(gate) to du.",
		[]string{"dg", "du", "dout", "gate", "up"},
		func(at []func() operand.Mem) {
			x := load(at[3]())
			s := sigmoid(x)
			g := load(at[2]())
			t := siluGrad(x, s)
			build.VMULPS(at[4](), t, t)
			d := load(at[0]())
			build.VFMADD231PS(g, t, d)
			build.VMOVUPS(d, at[0]())
			build.VMULPS(x, s, s) // silu
			d = load(at[1]())
			build.VFMADD231PS(g, s, d)
			build.VMOVUPS(d, at[1]())
		})

	maxFunc()
	expAffineFunc()
	scaleFunc()
	normFuncs()
	adamWFunc()
	build.Generate()
}

// maxFunc emits maxAVX2(x []float32) float32 over len(x) >= 8, a multiple
// of 8; NaN elements are skipped.
func maxFunc() {
	build.TEXT("maxAVX2", build.NOSPLIT, "func(x []float32) float32")
	build.Pragma("noescape")
	build.Doc("maxAVX2 returns the largest element of x, skipping NaN.")
	p := build.Load(build.Param("x").Base(), build.GP64())
	n := build.Load(build.Param("x").Len(), build.GP64())
	acc := bcast(cNegInf)
	i := build.GP64()
	build.XORQ(i, i)
	build.Label("max_loop")
	build.CMPQ(i, n)
	build.JAE(operand.LabelRef("max_done"))
	v := load(operand.Mem{Base: p, Index: i, Scale: 4})
	build.VMAXPS(acc, v, acc) // acc = v > acc ? v : acc, so NaN v is skipped
	build.ADDQ(operand.U8(8), i)
	build.JMP(operand.LabelRef("max_loop"))
	build.Label("max_done")
	hsum(acc, build.VMAXPS, build.VMAXSS)
	build.Store(acc.AsX(), build.ReturnIndex(0))
	build.VZEROUPPER()
	build.RET()
}

// hsum reduces the 8 lanes of y into its lowest lane with op.
func hsum(y reg.VecVirtual, op, opS func(...operand.Op)) {
	hi := build.XMM()
	build.VEXTRACTF128(operand.U8(1), y, hi)
	x := y.AsX()
	op(hi, x, x)
	build.VMOVHLPS(x, x, hi)
	op(hi, x, x)
	build.VPSHUFD(operand.U8(1), x, hi)
	opS(hi, x, x)
}

// expAffineFunc emits expAffineAVX2(dst, src []float32, a, b float32)
// float32: dst = e^(a·src - b), returning the sum of dst.
func expAffineFunc() {
	build.TEXT("expAffineAVX2", build.NOSPLIT, "func(dst, src []float32, a, b float32) float32")
	build.Pragma("noescape")
	build.Doc("expAffineAVX2 writes dst = e^(a·src - b) and returns its sum.")
	d := build.Load(build.Param("dst").Base(), build.GP64())
	s := build.Load(build.Param("src").Base(), build.GP64())
	n := build.Load(build.Param("src").Len(), build.GP64())
	a, b := build.YMM(), build.YMM()
	build.VBROADCASTSS(build.Load(build.Param("a"), build.XMM()), a)
	build.VBROADCASTSS(build.Load(build.Param("b"), build.XMM()), b)
	acc := build.YMM()
	build.VXORPS(acc, acc, acc)
	i := build.GP64()
	build.XORQ(i, i)
	build.Label("ea_loop")
	build.CMPQ(i, n)
	build.JAE(operand.LabelRef("ea_done"))
	x := build.YMM()
	build.VMOVUPS(operand.Mem{Base: s, Index: i, Scale: 4}, x)
	build.VFMSUB213PS(b, a, x) // x = a·x - b
	e := exp(x)
	build.VMOVUPS(e, operand.Mem{Base: d, Index: i, Scale: 4})
	build.VADDPS(e, acc, acc)
	build.ADDQ(operand.U8(8), i)
	build.JMP(operand.LabelRef("ea_loop"))
	build.Label("ea_done")
	hsum(acc, build.VADDPS, build.VADDSS)
	build.Store(acc.AsX(), build.ReturnIndex(0))
	build.VZEROUPPER()
	build.RET()
}

// scaleFunc emits scaleAVX2(x []float32, a float32): x *= a.
func scaleFunc() {
	build.TEXT("scaleAVX2", build.NOSPLIT, "func(x []float32, a float32)")
	build.Pragma("noescape")
	build.Doc("scaleAVX2 multiplies x by a.")
	p := build.Load(build.Param("x").Base(), build.GP64())
	n := build.Load(build.Param("x").Len(), build.GP64())
	a := build.YMM()
	build.VBROADCASTSS(build.Load(build.Param("a"), build.XMM()), a)
	i := build.GP64()
	build.XORQ(i, i)
	build.Label("sc_loop")
	build.CMPQ(i, n)
	build.JAE(operand.LabelRef("sc_done"))
	x := build.YMM()
	build.VMULPS(operand.Mem{Base: p, Index: i, Scale: 4}, a, x)
	build.VMOVUPS(x, operand.Mem{Base: p, Index: i, Scale: 4})
	build.ADDQ(operand.U8(8), i)
	build.JMP(operand.LabelRef("sc_loop"))
	build.Label("sc_done")
	build.VZEROUPPER()
	build.RET()
}

// vecFunc emits a loop over slices (length of the first, a multiple of 8)
// with scalar float32 parameters broadcast to registers and nacc float32
// sums returned in order.
func vecFunc(name, sig, doc string, slices, scalars []string, nacc int,
	body func(at []func() operand.Mem, sc, acc []reg.VecVirtual)) {
	build.TEXT(name, build.NOSPLIT, sig)
	build.Pragma("noescape")
	build.Doc(doc)
	ptrs := make([]reg.Register, len(slices))
	for i, s := range slices {
		ptrs[i] = build.Load(build.Param(s).Base(), build.GP64())
	}
	n := build.Load(build.Param(slices[0]).Len(), build.GP64())
	sc := make([]reg.VecVirtual, len(scalars))
	for i, s := range scalars {
		sc[i] = build.YMM()
		build.VBROADCASTSS(build.Load(build.Param(s), build.XMM()), sc[i])
	}
	acc := make([]reg.VecVirtual, nacc)
	for i := range acc {
		acc[i] = build.YMM()
		build.VXORPS(acc[i], acc[i], acc[i])
	}
	i := build.GP64()
	build.XORQ(i, i)
	build.Label(name + "_loop")
	build.CMPQ(i, n)
	build.JAE(operand.LabelRef(name + "_done"))
	at := make([]func() operand.Mem, len(slices))
	for k, p := range ptrs {
		at[k] = func() operand.Mem { return operand.Mem{Base: p, Index: i, Scale: 4} }
	}
	body(at, sc, acc)
	build.ADDQ(operand.U8(8), i)
	build.JMP(operand.LabelRef(name + "_loop"))
	build.Label(name + "_done")
	for k, a := range acc {
		hsum(a, build.VADDPS, build.VADDSS)
		build.Store(a.AsX(), build.ReturnIndex(k))
	}
	build.VZEROUPPER()
	build.RET()
}

// normFuncs emits the row loops of LayerNorm and RMSNorm (RMSNorm is the
// m = 0 case) and the plain sums and adds they and the residual need.
func normFuncs() {
	vecFunc("sumAVX2", "func(x []float32) float32", "sumAVX2 returns Σ x.", []string{"x"}, nil, 1,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			build.VADDPS(at[0](), acc[0], acc[0])
		})
	vecFunc("sumSqDiffAVX2", "func(x []float32, m float32) float32", "sumSqDiffAVX2 returns Σ (x-m)².",
		[]string{"x"}, []string{"m"}, 1,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			d := load(at[0]())
			build.VSUBPS(sc[0], d, d)
			build.VFMADD231PS(d, d, acc[0])
		})
	vecFunc("normFwdAVX2", "func(out, x, w []float32, m, r float32)", "normFwdAVX2 writes out = (x-m)·r·w.",
		[]string{"out", "x", "w"}, []string{"m", "r"}, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			d := load(at[1]())
			build.VSUBPS(sc[0], d, d)
			build.VMULPS(sc[1], d, d)
			build.VMULPS(at[2](), d, d)
			build.VMOVUPS(d, at[0]())
		})
	vecFunc("normFwdBiasAVX2", "func(out, x, w, b []float32, m, r float32)", "normFwdBiasAVX2 writes out = (x-m)·r·w + b.",
		[]string{"out", "x", "w", "b"}, []string{"m", "r"}, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			d := load(at[1]())
			build.VSUBPS(sc[0], d, d)
			build.VMULPS(sc[1], d, d)
			build.VFMADD213PS(at[3](), load(at[2]()), d) // d = w·d + b
			build.VMOVUPS(d, at[0]())
		})
	vecFunc("normBwdDotsAVX2", "func(g, w, x []float32, m, r float32) (sdn, sdnn float32)",
		"normBwdDotsAVX2 returns Σ g·w and Σ g·w·(x-m)·r.",
		[]string{"g", "w", "x"}, []string{"m", "r"}, 2,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			dn := load(at[0]())
			build.VMULPS(at[1](), dn, dn)
			build.VADDPS(dn, acc[0], acc[0])
			nx := load(at[2]())
			build.VSUBPS(sc[0], nx, nx)
			build.VMULPS(sc[1], nx, nx)
			build.VFMADD231PS(dn, nx, acc[1])
		})
	vecFunc("normBwdAVX2", "func(d, g, w, x []float32, m, r, a, c float32)",
		"normBwdAVX2 adds r·(g·w - a - (x-m)·r·c) to d.",
		[]string{"d", "g", "w", "x"}, []string{"m", "r", "a", "c"}, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			nx := load(at[3]())
			build.VSUBPS(sc[0], nx, nx)
			build.VMULPS(sc[1], nx, nx)
			build.VMULPS(sc[3], nx, nx) // n·c
			dn := load(at[1]())
			build.VMULPS(at[2](), dn, dn)
			build.VSUBPS(sc[2], dn, dn)
			build.VSUBPS(nx, dn, dn)
			d := load(at[0]())
			build.VFMADD231PS(sc[1], dn, d)
			build.VMOVUPS(d, at[0]())
		})
	vecFunc("normDwAVX2", "func(dw, g, x []float32, m, r float32)", "normDwAVX2 adds g·(x-m)·r to dw.",
		[]string{"dw", "g", "x"}, []string{"m", "r"}, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			nx := load(at[2]())
			build.VSUBPS(sc[0], nx, nx)
			build.VMULPS(sc[1], nx, nx)
			d := load(at[0]())
			build.VFMADD231PS(at[1](), nx, d)
			build.VMOVUPS(d, at[0]())
		})
	vecFunc("addToAVX2", "func(d, g []float32)", "addToAVX2 adds g to d.", []string{"d", "g"}, nil, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			accumulate(at[0](), load(at[1]()))
		})
	vecFunc("addAVX2", "func(out, a, b []float32)", "addAVX2 writes out = a + b.", []string{"out", "a", "b"}, nil, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			v := load(at[1]())
			build.VADDPS(at[2](), v, v)
			build.VMOVUPS(v, at[0]())
		})
}

// adamWFunc emits the AdamW update of kernels.AdamWStep over 8 parameters
// at a time: m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
// p = p·decay - step·m/(sqrt(v)·rbc2 + eps).
func adamWFunc() {
	vecFunc("adamWAVX2", "func(p, g, m, v []float32, b1, b2, c1, c2, decay, step, rbc2, eps float32)",
		"adamWAVX2 applies one AdamW step; c1 = 1-β1, c2 = 1-β2.",
		[]string{"p", "g", "m", "v"}, []string{"b1", "b2", "c1", "c2", "decay", "step", "rbc2", "eps"}, 0,
		func(at []func() operand.Mem, sc, acc []reg.VecVirtual) {
			g := load(at[1]())
			m := build.YMM()
			build.VMULPS(at[2](), sc[0], m)
			build.VFMADD231PS(g, sc[2], m) // m = β1·m + (1-β1)·g
			build.VMOVUPS(m, at[2]())
			build.VMULPS(g, g, g)
			v := build.YMM()
			build.VMULPS(at[3](), sc[1], v)
			build.VFMADD231PS(g, sc[3], v) // v = β2·v + (1-β2)·g²
			build.VMOVUPS(v, at[3]())
			build.VSQRTPS(v, v)
			build.VFMADD213PS(sc[7], sc[6], v) // denom = sqrt(v)·rbc2 + eps
			build.VMULPS(sc[5], m, m)
			build.VDIVPS(v, m, m) // step·m/denom
			p := build.YMM()
			build.VMULPS(at[0](), sc[4], p)
			build.VSUBPS(m, p, p)
			build.VMOVUPS(p, at[0]())
		})
}
