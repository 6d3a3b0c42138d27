package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Hand-computed cases, and the float32 fast paths against the float64
// references.

func randF32(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// assertClose fails when |got - want| > atol + rtol·|want| anywhere and logs
// the largest absolute difference.
func assertClose(t *testing.T, name string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", name, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		worst = math.Max(worst, d)
		if !(d <= atol+rtol*math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %.9g, want %.9g", name, i, got[i], want[i])
		}
	}
	t.Logf("%s: max abs difference %.3g", name, worst)
}

func TestSoftmaxKnown(t *testing.T) {
	in := []float32{1, 2, 3, 1000, 1000, 0, -1e30, 5, 5, 5}
	out := make([]float32, len(in))
	SoftmaxForward(out[:3], in[:3], 1, 3)
	SoftmaxForward(out[3:5], in[3:5], 1, 2) // huge but equal: no overflow
	SoftmaxForward(out[5:10], in[5:10], 1, 5)
	want := []float64{0.09003057317, 0.2447284711, 0.6652409558, 0.5, 0.5,
		0.0022409492, 0, 0.3325863503, 0.3325863503, 0.3325863503}
	assertClose(t, "softmax", out, want, 1e-7, 1e-6)
}

func TestActivationsKnown(t *testing.T) {
	x := []float32{1, -1, 0, 3}
	for _, c := range []struct {
		name string
		fn   func(out, inp []float32, n int)
		want []float64
	}{
		// gelu_tanh(1) = 0.5·(1 + tanh(sqrt(2/π)·1.044715)), PyTorch's
		// F.gelu(x, approximate="tanh") prints 0.8411920.
		{"gelu_tanh", GELUTanhForward, []float64{0.8411919906, -0.1588080094, 0, 2.9963625454}},
		{"gelu_erf", GELUErfForward, []float64{0.8413447461, -0.1586552539, 0, 2.9959507532}},
		{"silu", SiLUForward, []float64{0.7310585786, -0.2689414214, 0, 2.8577223804}},
	} {
		out := make([]float32, len(x))
		c.fn(out, x, len(x))
		assertClose(t, c.name, out, c.want, 2e-7, 2e-7)
	}
	out := make([]float32, 2)
	SwiGLUForward(out, []float32{1, -1}, []float32{2, 3}, 2)
	assertClose(t, "swiglu", out, []float64{2 * 0.7310585786, 3 * -0.2689414214}, 2e-7, 2e-7)
}

func TestNormsKnown(t *testing.T) {
	// RMSNorm of (3, 4): rms = sqrt(12.5) = 3.5355339; w = (1, 2).
	out, rstd := make([]float32, 2), make([]float32, 1)
	RMSNormForward(out, rstd, []float32{3, 4}, []float32{1, 2}, 1, 2, 0)
	assertClose(t, "rmsnorm", out, []float64{3 / 3.5355339059, 8 / 3.5355339059}, 1e-7, 1e-6)
	assertClose(t, "rmsnorm rstd", rstd, []float64{1 / 3.5355339059}, 1e-7, 1e-6)
	// LayerNorm of (1, 2, 3, 4): mean 2.5, var 1.25, rstd 0.894427191;
	// w = (1, 2, 1, 1), b = (0, 0, 1, 0).
	out, mean := make([]float32, 4), make([]float32, 1)
	LayerNormForward(out, mean, rstd, []float32{1, 2, 3, 4}, []float32{1, 2, 1, 1}, []float32{0, 0, 1, 0}, 1, 4, 0)
	assertClose(t, "layernorm", out, []float64{-1.3416407865, -0.894427191, 1.4472135955, 1.3416407865}, 1e-6, 1e-6)
	assertClose(t, "layernorm mean", mean, []float64{2.5}, 0, 0)
}

func TestNormsFloat32(t *testing.T) {
	vecPaths(t, func(t *testing.T) {
		for _, C := range []int{96, 77} { // vector body only, and with a tail
			testNormsFloat32(t, 37, C)
		}
	})
}

func testNormsFloat32(t *testing.T, N, C int) {
	rng := rand.New(rand.NewPCG(20, uint64(C)))
	x, w, b := randF32(rng, N*C, 3), randF32(rng, C, 1), randF32(rng, C, 1)
	dout := randF32(rng, N*C, 1)
	x64, w64, b64, dout64 := to64(x), to64(w), to64(b), to64(dout)

	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	dx, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
	LayerNormForward(out, mean, rstd, x, w, b, N, C, 1e-5)
	LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd, N, C)
	o64, m64, r64 := make([]float64, N*C), make([]float64, N), make([]float64, N)
	dx64, dw64, db64 := make([]float64, N*C), make([]float64, C), make([]float64, C)
	layerNormForward(o64, m64, r64, x64, w64, b64, N, C, 1e-5)
	layerNormBackward(dx64, dw64, db64, dout64, x64, w64, m64, r64, N, C)
	assertClose(t, "layernorm out", out, o64, 1e-5, 1e-5)
	assertClose(t, "layernorm dx", dx, dx64, 1e-5, 1e-4)
	assertClose(t, "layernorm dw", dw, dw64, 1e-4, 1e-4)
	assertClose(t, "layernorm db", db, db64, 1e-4, 1e-4)
	LayerNormForward(out, mean, rstd, x, w, nil, N, C, 1e-5) // no bias
	layerNormForward(o64, m64, r64, x64, w64, make([]float64, C), N, C, 1e-5)
	assertClose(t, "layernorm out without bias", out, o64, 1e-5, 1e-5)

	clear(dx)
	clear(dw)
	RMSNormForward(out, rstd, x, w, N, C, 1e-6)
	RMSNormBackward(dx, dw, dout, x, w, rstd, N, C)
	clear(dx64)
	clear(dw64)
	rmsNormForward(o64, r64, x64, w64, N, C, 1e-6)
	rmsNormBackward(dx64, dw64, dout64, x64, w64, r64, N, C)
	assertClose(t, "rmsnorm out", out, o64, 1e-5, 1e-5)
	assertClose(t, "rmsnorm dx", dx, dx64, 1e-5, 1e-4)
	assertClose(t, "rmsnorm dw", dw, dw64, 1e-4, 1e-4)
}

func TestAddEmbeddingFloat32(t *testing.T) {
	vecPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(40, 41))
		N, V, C := 9, 5, 13
		ids := []int32{4, 4, 0, 1, 4, 2, 3, 0, 4}
		wte, other, dout := randF32(rng, V*C, 1), randF32(rng, N*C, 1), randF32(rng, N*C, 1)
		out, dwte, da := make([]float32, N*C), randF32(rng, V*C, 1), randF32(rng, N*C, 1)
		out64, dwte64, da64 := make([]float64, N*C), to64(dwte), to64(da)
		EmbeddingForward(out, ids, wte, N, V, C)
		AddForward(out, out, other, N*C)
		AddBackward(da, nil, dout, N*C)
		EmbeddingBackward(dwte, da, ids, N, V, C)
		embeddingForward(out64, ids, to64(wte), N, V, C)
		addForward(out64, out64, to64(other), N*C)
		addBackward(da64, nil, to64(dout), N*C)
		embeddingBackward(dwte64, da64, ids, N, V, C)
		assertClose(t, "out", out, out64, 1e-7, 1e-7)
		assertClose(t, "dwte", dwte, dwte64, 1e-6, 1e-6)
	})
}

// TestActivationsFloat32 runs the fast paths on sizes that cover the vector
// body, the scalar tail and the multi-threaded split.
func TestActivationsFloat32(t *testing.T) {
	vecPaths(t, testActivationsFloat32)
}

func testActivationsFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 23))
	for _, N := range []int{13, 100_003} {
		x, up, dout := randF32(rng, N, 4), randF32(rng, N, 1), randF32(rng, N, 1)
		x[0], x[1], x[2] = 30, -30, 0 // saturation
		x64, up64, dout64 := to64(x), to64(up), to64(dout)
		for _, c := range []struct {
			name       string
			fwd        func(out, inp []float32, n int)
			bwd        func(dinp, dout, inp []float32, n int)
			fwd64      func(out, inp []float64, n int)
			bwd64      func(dinp, dout, inp []float64, n int)
			atol, rtol float64
		}{
			{"gelu_tanh", GELUTanhForward, GELUTanhBackward, geluTanhForward[float64], geluTanhBackward[float64], 1e-6, 1e-6},
			{"gelu_erf", GELUErfForward, GELUErfBackward, geluErfForward[float64], geluErfBackward[float64], 1e-6, 1e-6},
			{"silu", SiLUForward, SiLUBackward, siluForward[float64], siluBackward[float64], 1e-6, 1e-6},
		} {
			out, dx := make([]float32, N), make([]float32, N)
			for i := range dx {
				dx[i] = 1 // backward accumulates
			}
			c.fwd(out, x, N)
			c.bwd(dx, dout, x, N)
			o64, dx64 := make([]float64, N), make([]float64, N)
			for i := range dx64 {
				dx64[i] = 1
			}
			c.fwd64(o64, x64, N)
			c.bwd64(dx64, dout64, x64, N)
			assertClose(t, c.name+" fwd", out, o64, c.atol, c.rtol)
			// The derivatives add terms of either sign up to ~20 in size,
			// so float32 rounding shows at a few 1e-6.
			assertClose(t, c.name+" bwd", dx, dx64, 10*c.atol, 10*c.rtol)
		}
		out, dg, du := make([]float32, N), make([]float32, N), make([]float32, N)
		SwiGLUForward(out, x, up, N)
		SwiGLUBackward(dg, du, dout, x, up, N)
		o64, dg64, du64 := make([]float64, N), make([]float64, N), make([]float64, N)
		swigluForward(o64, x64, up64, N)
		swigluBackward(dg64, du64, dout64, x64, up64, N)
		assertClose(t, "swiglu fwd", out, o64, 1e-6, 1e-6)
		assertClose(t, "swiglu dgate", dg, dg64, 1e-6, 1e-6)
		assertClose(t, "swiglu dup", du, du64, 1e-6, 1e-6)
		clear(du)
		SwiGLUBackward(nil, du, dout, x, up, N) // frozen gate
		assertClose(t, "swiglu dup only", du, du64, 1e-6, 1e-6)
	}
}

func TestSoftmaxFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 25))
	for _, C := range []int{1, 7, 300} {
		N := 9
		x, dout := randF32(rng, N*C, 5), randF32(rng, N*C, 1)
		out, dx := make([]float32, N*C), make([]float32, N*C)
		SoftmaxForward(out, x, N, C)
		SoftmaxBackward(dx, dout, out, N, C)
		o64, dx64 := make([]float64, N*C), make([]float64, N*C)
		softmaxForward(o64, to64(x), N, C)
		softmaxBackward(dx64, to64(dout), o64, N, C)
		assertClose(t, "softmax", out, o64, 1e-7, 1e-5)
		assertClose(t, "softmax dx", dx, dx64, 1e-6, 1e-5)
	}
}

func TestRoPE(t *testing.T) {
	rng := rand.New(rand.NewPCG(26, 27))
	N, NH, HS := 4, 3, 8
	pos := []int32{0, 1, 17, 4095}
	x := randF32(rng, N*NH*HS, 1)
	neox, err := NewRoPE(HS, HS, 10000, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := NewRoPE(HS, HS, 10000, nil, true)
	cs := neox.Angles(nil, pos)
	a := make([]float32, len(x))
	RoPEForward(a, x, cs, N, NH, neox)

	// Position 0 is the identity.
	for i := 0; i < NH*HS; i++ {
		if a[i] != x[i] {
			t.Fatalf("position 0 changed channel %d: %v -> %v", i, x[i], a[i])
		}
	}
	// Rotations preserve each head's norm.
	for h := 0; h < N*NH; h++ {
		var n0, n1 float64
		for c := 0; c < HS; c++ {
			n0 += float64(x[h*HS+c]) * float64(x[h*HS+c])
			n1 += float64(a[h*HS+c]) * float64(a[h*HS+c])
		}
		if math.Abs(n0-n1) > 1e-5*n0 {
			t.Fatalf("head %d: norm² %v -> %v", h, n0, n1)
		}
	}
	// Hand value: pair 0 rotates by pos·theta^0 = pos radians; the NEOX
	// pair 0 is channels (0, HS/2).
	c, s := math.Cos(17), math.Sin(17)
	x0, x4 := float64(x[2*NH*HS]), float64(x[2*NH*HS+4])
	assertClose(t, "rope pair 0 at 17", []float32{a[2*NH*HS], a[2*NH*HS+4]}, []float64{x0*c - x4*s, x0*s + x4*c}, 1e-6, 1e-6)

	// The layouts agree after the permutation GGUF applies to q/k rows:
	// interleaved channel 2i holds NEOX channel i, 2i+1 holds i+HS/2.
	perm := make([]float32, len(x))
	for h := 0; h < N*NH; h++ {
		for i := 0; i < HS/2; i++ {
			perm[h*HS+2*i] = x[h*HS+i]
			perm[h*HS+2*i+1] = x[h*HS+i+HS/2]
		}
	}
	b := make([]float32, len(x))
	RoPEForward(b, perm, inter.Angles(nil, pos), N, NH, inter)
	back := make([]float64, len(x))
	for h := 0; h < N*NH; h++ {
		for i := 0; i < HS/2; i++ {
			back[h*HS+i] = float64(b[h*HS+2*i])
			back[h*HS+i+HS/2] = float64(b[h*HS+2*i+1])
		}
	}
	assertClose(t, "interleaved vs neox", a, back, 0, 0)

	// Backward is the inverse rotation: RoPEBackward of the output
	// restores the input.
	d := make([]float32, len(x))
	RoPEBackward(d, a, cs, N, NH, neox)
	assertClose(t, "inverse", d, to64(x), 1e-6, 1e-6)

	// In place gives the same as out of place.
	in := append([]float32(nil), x...)
	RoPEForward(in, in, cs, N, NH, neox)
	assertClose(t, "in place", in, to64(a), 0, 0)

	// One row at a time (decoding's path) gives the same as all rows,
	// and Angles refills a table it is handed.
	one := make([]float32, len(x))
	for n := range N {
		row := neox.Angles(cs[:0], pos[n:n+1])
		RoPEForward(one[n*NH*HS:(n+1)*NH*HS], x[n*NH*HS:(n+1)*NH*HS], row, 1, NH, neox)
	}
	assertClose(t, "row by row", one, to64(a), 0, 0)

	if _, err := NewRoPE(8, 5, 10000, nil, false); err == nil {
		t.Error("NewRoPE accepted odd rotary dims")
	}
}

func TestLlama3RoPEDivisors(t *testing.T) {
	// Llama 3.1 8B: head dim 128, theta 500000, factor 8, low 1, high 4,
	// original context 8192. High frequencies (wavelength < 2048) keep
	// theirs, low ones (wavelength > 8192) are divided by 8.
	div := Llama3RoPEDivisors(128, 500000, 8, 1, 4, 8192)
	if div[0] != 1 || div[63] != 8 {
		t.Fatalf("divisors[0] = %v, [63] = %v; want 1 and 8", div[0], div[63])
	}
	for i, d := range div {
		f := math.Pow(500000, -float64(2*i)/128)
		wave := 2 * math.Pi / f
		switch {
		case wave < 2048 && d != 1, wave > 8192 && d != 8:
			t.Fatalf("divisor %d (wavelength %.0f) = %v", i, wave, d)
		case wave >= 2048 && wave <= 8192:
			// smooth = 8192/wave - 1 over 3; 1/div = (1-smooth)/8 + smooth.
			smooth := (8192/wave - 1) / 3
			want := 1 / ((1-smooth)/8 + smooth)
			if math.Abs(float64(d)-want) > 1e-5*want || d <= 1 || d >= 8 {
				t.Fatalf("medium divisor %d (wavelength %.0f) = %v, want %v", i, wave, d, want)
			}
		}
	}
	r, err := NewRoPE(128, 128, 500000, div, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.InvFreq[63], math.Pow(500000, -126.0/128)/8; math.Abs(got-want) > 1e-6*want {
		t.Fatalf("InvFreq[63] = %v, want %v", got, want)
	}
}

func newAttn(rng *rand.Rand, a *AttnShape) (q, k, v, dout []float32) {
	TK := a.tk()
	return randF32(rng, a.B*a.T*a.NH*a.HS, 1), randF32(rng, a.B*TK*a.NKV*a.HS, 1),
		randF32(rng, a.B*TK*a.NKV*a.HS, 1), randF32(rng, a.B*a.T*a.NH*a.HS, 1)
}

func TestAttentionFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 29))
	for _, c := range []struct {
		name string
		a    AttnShape
	}{
		{"causal tiles", AttnShape{B: 2, T: 70, NH: 4, NKV: 4, HS: 8, Causal: true}},
		{"bidirectional padded", AttnShape{B: 3, T: 20, NH: 2, NKV: 1, HS: 16, Lens: []int{20, 7, 0}}},
		{"gqa causal padded", AttnShape{B: 2, T: 66, NH: 6, NKV: 2, HS: 4, Causal: true, Lens: []int{66, 3}}},
		{"cache offset", AttnShape{B: 1, T: 3, TK: 9, NH: 2, NKV: 2, HS: 5, Causal: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &c.a
			q, k, v, dout := newAttn(rng, a)
			out, probs := make([]float32, len(q)), make([]float32, a.B*a.NH*a.T*a.tk())
			dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
			AttentionForward(out, probs, q, k, v, a)
			AttentionBackward(dq, dk, dv, dout, probs, q, k, v, a)
			o64, p64 := make([]float64, len(q)), make([]float64, len(probs))
			dq64, dk64, dv64 := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
			q64, k64, v64 := to64(q), to64(k), to64(v)
			attentionForward(o64, p64, q64, k64, v64, a)
			attentionBackward(dq64, dk64, dv64, to64(dout), p64, q64, k64, v64, a)
			assertClose(t, "out", out, o64, 1e-5, 1e-5)
			assertClose(t, "probs", probs, p64, 1e-6, 1e-5)
			assertClose(t, "dq", dq, dq64, 1e-5, 1e-4)
			assertClose(t, "dk", dk, dk64, 1e-5, 1e-4)
			assertClose(t, "dv", dv, dv64, 1e-5, 1e-4)
		})
	}
}

func TestAttentionT1ReturnsV(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 31))
	a := &AttnShape{B: 2, T: 1, NH: 4, NKV: 2, HS: 5, Causal: true}
	q, k, v, _ := newAttn(rng, a)
	out := make([]float32, len(q))
	AttentionForward(out, make([]float32, 8), q, k, v, a)
	want := make([]float64, len(out))
	for b := 0; b < 2; b++ {
		for h := 0; h < 4; h++ {
			for c := 0; c < 5; c++ {
				want[(b*4+h)*5+c] = float64(v[(b*2+h/2)*5+c])
			}
		}
	}
	assertClose(t, "T=1", out, want, 1e-7, 0)
}

// TestGQAEqualsRepeatedMHA checks grouped-query attention against
// multi-head attention with each kv head repeated NH/NKV times, forward
// and backward (the repeated heads' gradients summed back).
func TestGQAEqualsRepeatedMHA(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 33))
	g := &AttnShape{B: 2, T: 9, NH: 6, NKV: 2, HS: 4, Causal: true}
	m := *g
	m.NKV = 6
	q, k, v, dout := newAttn(rng, g)
	rep := func(x []float32) []float32 {
		y := make([]float32, 0, len(x)*3)
		for r := 0; r < g.B*g.T; r++ {
			for h := 0; h < 6; h++ {
				y = append(y, x[(r*2+h/3)*4:][:4]...)
			}
		}
		return y
	}
	kr, vr := rep(k), rep(v)
	outG, outM := make([]float32, len(q)), make([]float32, len(q))
	pG, pM := make([]float32, 2*6*9*9), make([]float32, 2*6*9*9)
	AttentionForward(outG, pG, q, k, v, g)
	AttentionForward(outM, pM, q, kr, vr, &m)
	assertClose(t, "out", outG, to64(outM), 1e-6, 1e-6)
	dqG, dkG, dvG := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	dqM, dkM, dvM := make([]float32, len(q)), make([]float32, len(kr)), make([]float32, len(vr))
	AttentionBackward(dqG, dkG, dvG, dout, pG, q, k, v, g)
	AttentionBackward(dqM, dkM, dvM, dout, pM, q, kr, vr, &m)
	sum := func(x []float32) []float64 {
		y := make([]float64, len(k))
		for r := 0; r < g.B*g.T; r++ {
			for h := 0; h < 6; h++ {
				for c := 0; c < 4; c++ {
					y[(r*2+h/3)*4+c] += float64(x[(r*6+h)*4+c])
				}
			}
		}
		return y
	}
	assertClose(t, "dq", dqG, to64(dqM), 1e-6, 1e-6)
	assertClose(t, "dk", dkG, sum(dkM), 1e-6, 1e-5)
	assertClose(t, "dv", dvG, sum(dvM), 1e-6, 1e-5)
}

// TestAttentionDecode checks the single-query entry point against the last
// row of a full causal pass over the same keys.
func TestAttentionDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(34, 35))
	a := &AttnShape{B: 1, T: 11, NH: 4, NKV: 2, HS: 8, Causal: true}
	q, k, v, _ := newAttn(rng, a)
	out, probs := make([]float32, len(q)), make([]float32, 4*11*11)
	AttentionForward(out, probs, q, k, v, a)
	last := 10 * 4 * 8
	dec, att := make([]float32, 4*8), make([]float32, 4*11)
	AttentionDecode(dec, att, q[last:], k, v, 11, 4, 2, 8, 0)
	assertClose(t, "decode", dec, to64(out[last:]), 1e-6, 1e-6)
}

func TestCrossEntropy(t *testing.T) {
	// Uniform logits: every loss is log V. The ignored row is excluded.
	BT, V := 3, 50
	logits := make([]float32, BT*V)
	for i := range logits {
		logits[i] = 2.5
	}
	targets := []int32{4, IgnoreIndex, 49}
	losses, lse := make([]float32, BT), make([]float32, BT)
	mean, n := CrossEntropyMean(losses, lse, logits, targets, BT, V, IgnoreIndex)
	if n != 2 || math.Abs(float64(mean)-math.Log(50)) > 1e-6 || losses[1] != 0 {
		t.Fatalf("uniform: mean %v over %d, losses %v; want log 50 = %v over 2", mean, n, losses, math.Log(50))
	}
	// Hand value: logits (0, ln 3) with target 1: p = 3/4, loss = ln 4/3.
	sum, n := CrossEntropyForward(losses[:1], lse[:1], []float32{0, float32(math.Log(3))}, []int32{1}, 1, 2, IgnoreIndex)
	if n != 1 || math.Abs(sum-math.Log(4.0/3)) > 1e-6 {
		t.Fatalf("hand case: %v over %d, want %v", sum, n, math.Log(4.0/3))
	}
	if _, n := CrossEntropyMean(losses[:1], lse[:1], logits[:V], []int32{IgnoreIndex}, 1, V, IgnoreIndex); n != 0 {
		t.Fatal("all-ignored batch counted rows")
	}

	rng := rand.New(rand.NewPCG(36, 37))
	// A GPT-2 sized row: the float32 lane sums of the vector exp must
	// still match the float64 reference.
	big := randF32(rng, 2*50257, 3)
	bl, blse := make([]float32, 2), make([]float32, 2)
	CrossEntropyForward(bl, blse, big, []int32{7, 50256}, 2, 50257, IgnoreIndex)
	bl64 := make([]float64, 2)
	crossEntropyForward(bl64, to64(big), []int32{7, 50256}, 2, 50257, IgnoreIndex)
	assertClose(t, "V=50257 losses", bl, bl64, 1e-5, 1e-6)

	BT, V = 7, 1000
	logits = randF32(rng, BT*V, 4)
	targets = []int32{0, 999, IgnoreIndex, 5, 500, IgnoreIndex, 3}
	losses, lse = make([]float32, BT), make([]float32, BT)
	sum, n = CrossEntropyForward(losses, lse, logits, targets, BT, V, IgnoreIndex)
	l64 := make([]float64, BT)
	sum64, n64 := crossEntropyForward(l64, to64(logits), targets, BT, V, IgnoreIndex)
	if n != n64 || math.Abs(sum-sum64) > 1e-5*sum64 {
		t.Fatalf("sum %v over %d, reference %v over %d", sum, n, sum64, n64)
	}
	assertClose(t, "losses", losses, l64, 1e-5, 1e-6)
	d64 := make([]float64, BT*V)
	crossEntropyBackward(d64, to64(logits), targets, BT, V, IgnoreIndex, 1/float64(n))
	dl := make([]float32, BT*V)
	CrossEntropyBackward(dl, logits, lse, targets, BT, V, IgnoreIndex, 1/float32(n))
	assertClose(t, "dlogits", dl, d64, 1e-8, 1e-5)
	CrossEntropyBackward(logits, logits, lse, targets, BT, V, IgnoreIndex, 1/float32(n)) // in place
	assertClose(t, "dlogits in place", logits, d64, 1e-8, 1e-5)
}

func TestAdamWTwoSteps(t *testing.T) {
	// p = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01; grads 0.5 then
	// -0.25. By hand:
	// step 1: p = 0.999; m = 0.05, v = 0.00025; m̂ = 0.5, sqrt(v̂) = 0.5;
	//         p = 0.999 - 0.1·0.5/(0.5 + 1e-8) = 0.899000002
	// step 2: p = 0.899000002·0.999 = 0.898101002; m = 0.02, v = 0.00031225;
	//         m̂ = 0.02/0.19, sqrt(v̂) = sqrt(0.00031225/0.001999) = 0.3952254;
	//         p = 0.898101002 - 0.1·0.1052632/(0.3952254 + 1e-8) = 0.8714673
	h := AdamW{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	p, m, v := []float32{1}, []float32{0}, []float32{0}
	AdamWStep(p, []float32{0.5}, m, v, 1, 1, h)
	assertClose(t, "step 1", p, []float64{0.899000002}, 1e-7, 0)
	// float32(1-0.9) = 0.10000002: m and v carry that rounding.
	assertClose(t, "m", m, []float64{0.05}, 2e-8, 0)
	assertClose(t, "v", v, []float64{0.00025}, 5e-9, 0)
	AdamWStep(p, []float32{-0.25}, m, v, 1, 2, h)
	assertClose(t, "step 2", p, []float64{0.8714673}, 1e-7, 0)
}

// TestAdamWPaths runs a few steps on both vector paths (with a tail) and
// compares them with a float64 transcription of torch's update.
func TestAdamWPaths(t *testing.T) {
	vecPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(42, 43))
		N := 37
		h := AdamW{LR: 0.01, Beta1: 0.9, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.1}
		p := randF32(rng, N, 1)
		m, v := make([]float32, N), make([]float32, N)
		p64, m64, v64 := to64(p), make([]float64, N), make([]float64, N)
		for step := 1; step <= 3; step++ {
			g := randF32(rng, N, 1)
			AdamWStep(p, g, m, v, N, step, h)
			bc1 := 1 - math.Pow(0.9, float64(step))
			bc2 := 1 - math.Pow(0.95, float64(step))
			for i := range p64 {
				gi := float64(g[i])
				p64[i] *= 1 - 0.01*0.1
				m64[i] = 0.9*m64[i] + 0.1*gi
				v64[i] = 0.95*v64[i] + 0.05*gi*gi
				p64[i] -= 0.01 / bc1 * m64[i] / (math.Sqrt(v64[i])/math.Sqrt(bc2) + 1e-6)
			}
		}
		assertClose(t, "p", p, p64, 1e-6, 1e-6)
		assertClose(t, "m", m, m64, 1e-6, 1e-6)
		assertClose(t, "v", v, v64, 1e-6, 1e-6)
	})
}

func TestClipGradNorm(t *testing.T) {
	a, b := []float32{3, 0}, []float32{4}
	if n := ClipGradNorm(10, a, b); n != 5 || a[0] != 3 {
		t.Fatalf("no clip: norm %v, a %v", n, a)
	}
	if n := ClipGradNorm(1, a, b); n != 5 {
		t.Fatalf("norm %v, want 5", n)
	}
	assertClose(t, "clipped", append(a, b...), []float64{0.6, 0, 0.8}, 1e-6, 0)
}

// TestSoftmaxRowScale covers the scale folded into the exponent, both
// signs, on both vector paths.
func TestSoftmaxRowScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(38, 39))
	x := randF32(rng, 21, 2)
	vecPaths(t, func(t *testing.T) {
		for _, scale := range []float32{0.125, 1, -2} {
			sx := make([]float64, len(x))
			for i, v := range x {
				sx[i] = float64(scale * v)
			}
			want := make([]float64, len(x))
			softmaxForward(want, sx, 1, len(x))
			got := make([]float32, len(x))
			softmaxRow(got, x, scale)
			assertClose(t, "softmax", got, want, 1e-7, 1e-5)
		}
	})
}

// TestAttentionKVLayout checks attention over keys and values laid out
// per head (KVRow, KVHead: a KV cache's layout) against the same values in
// the layout linear layers write, for one query (decoding: grouped heads,
// segments and their merge) and a chunk of queries (prefill against the
// cache), over groups of 1, 3 and 7 query heads, heads of 64 and 128 and
// key counts with and without a remainder of rows and segments.
func TestAttentionKVLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct{ NH, NKV, HS, TK int }{
		{6, 2, 64, 37}, {14, 2, 64, 301}, {12, 12, 64, 5}, {4, 1, 128, 2500}, {9, 3, 64, 1}, {8, 4, 8, 70},
	} {
		NH, NKV, HS, TK := c.NH, c.NKV, c.HS, c.TK
		maxLen := TK + 13
		for _, T := range []int{1, 5} {
			if T > TK {
				continue
			}
			q := make([]float32, T*NH*HS)
			k, v := make([]float32, TK*NKV*HS), make([]float32, TK*NKV*HS)
			for _, s := range [][]float32{q, k, v} {
				for i := range s {
					s[i] = rng.Float32()*2 - 1
				}
			}
			kc, vc := make([]float32, NKV*maxLen*HS), make([]float32, NKV*maxLen*HS)
			for j := range TK {
				for g := range NKV {
					copy(kc[(g*maxLen+j)*HS:(g*maxLen+j+1)*HS], k[(j*NKV+g)*HS:(j*NKV+g+1)*HS])
					copy(vc[(g*maxLen+j)*HS:(g*maxLen+j+1)*HS], v[(j*NKV+g)*HS:(j*NKV+g+1)*HS])
				}
			}
			want, got := make([]float32, T*NH*HS), make([]float32, T*NH*HS)
			AttentionForward(want, make([]float32, NH*T*TK), q, k, v, &AttnShape{B: 1, T: T, TK: TK, NH: NH, NKV: NKV, HS: HS, Causal: true})
			AttentionForward(got, make([]float32, NH*T*TK), q, kc, vc, &AttnShape{B: 1, T: T, TK: TK, NH: NH, NKV: NKV, HS: HS, Causal: true, KVRow: HS, KVHead: maxLen * HS})
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("%+v T=%d: out[%d] = %g, want %g", c, T, i, got[i], want[i])
				}
			}
		}
	}
}

// TestAttnGroupKernels checks the grouped attention kernels (the AVX-512
// ones where the CPU has them) against their Go references, for 1 to 3
// heads, rows with and without a remainder of 4, heads of 64 and 128.
func TestAttnGroupKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, g := range []int{1, 2, 3, 5} {
		for _, hs := range []int{64, 128} {
			for _, rows := range []int{1, 4, 7, 64, 131} {
				lds := rows + 3
				k, q := randF32(rng, rows*hs, 1), randF32(rng, g*hs, 1)
				want, got := make([]float32, g*lds), make([]float32, g*lds)
				attnScoresGo(want, lds, k, q, g, rows, hs)
				attnGroupScores(got, lds, k, q, randF32(rng, rows*hs, 1), g, rows, hs)
				for h := range g {
					for j := range rows {
						if d := math.Abs(float64(got[h*lds+j] - want[h*lds+j])); d > 1e-5*float64(hs) {
							t.Fatalf("scores g=%d hs=%d rows=%d: s[%d][%d] = %g, want %g", g, hs, rows, h, j, got[h*lds+j], want[h*lds+j])
						}
					}
				}
				ldo, ldp := hs+5, rows+2
				p, v := randF32(rng, g*ldp, 1), randF32(rng, rows*hs, 1)
				o0 := randF32(rng, g*ldo, 1)
				wantO, gotO := append([]float32(nil), o0...), append([]float32(nil), o0...)
				attnValuesGo(wantO, ldo, p, ldp, v, hs, g, rows, hs)
				attnGroupValues(gotO, ldo, p, ldp, v, g, rows, hs)
				for i := range wantO {
					if d := math.Abs(float64(gotO[i] - wantO[i])); d > 1e-5*float64(rows) {
						t.Fatalf("values g=%d hs=%d rows=%d: o[%d] = %g, want %g", g, hs, rows, i, gotO[i], wantO[i])
					}
				}
			}
		}
	}
}

// TestAttnSegments checks the segmentation: whole groups of 4 rows,
// within the bounds, enough units for two threads where keys allow, and
// covering every key.
func TestAttnSegments(t *testing.T) {
	for _, c := range []struct{ nk, nkv, seg int }{
		{384, 3, 192}, {2048, 3, 1024}, {5000, 3, 1000}, {37, 2, 16}, {1, 9, 4}, {100, 12, 100}, {300, 1, 52},
	} {
		if got := attnSegments(c.nk, c.nkv); got != c.seg {
			t.Errorf("attnSegments(%d, %d) = %d, want %d", c.nk, c.nkv, got, c.seg)
		}
	}
}
