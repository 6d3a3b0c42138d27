package lora

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/nn"
)

// TestLinearBackwardFD checks the wrapper's dx, dA and dB, with dropout
// on (the generator rewound before every forward so the mask stays
// fixed) and off, against central finite differences of Σ w·y computed in
// float64 from the float32 forward.
func TestLinearBackwardFD(t *testing.T) {
	for _, p := range []float64{0, 0.3} {
		rng := rand.New(rand.NewPCG(1, 2))
		const N, In, Out, R = 6, 10, 7, 3
		base := nn.NewLinear(In, Out, true)
		nn.FillNormal(base.W, 0.5, rng)
		nn.FillNormal(base.B, 0.5, rng)
		st := &state{training: true, pcg: rand.NewPCG(3, 4)}
		st.rng = rand.New(st.pcg)
		l := newLinear("m", base, R, 6, false, p, st)
		nn.FillNormal(l.A, 0.5, rng)
		nn.FillNormal(l.B, 0.5, rng)
		x, w := make([]float32, N*In), make([]float32, N*Out)
		nn.FillNormal(x, 1, rng)
		nn.FillNormal(w, 1, rng)
		y := make([]float32, N*Out)
		seed, _ := st.pcg.MarshalBinary()
		loss := func() float64 {
			st.pcg.UnmarshalBinary(seed)
			l.Forward(y, x, N)
			var s float64
			for i := range y {
				s += float64(w[i]) * float64(y[i])
			}
			return s
		}
		loss()
		dx := make([]float32, N*In)
		l.Backward(dx, w, x, N)
		if p > 0 {
			zeros := 0
			for _, k := range st.keep {
				if k == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == len(st.keep) {
				t.Fatalf("dropout %v dropped %d of %d inputs", p, zeros, len(st.keep))
			}
		}
		for _, c := range []struct {
			name string
			v, g []float32
		}{{"dx", x, dx}, {"dA", l.A, l.DA}, {"dB", l.B, l.DB}} {
			var worst float64
			for i := range c.v {
				old := c.v[i]
				c.v[i] = old + 1e-2
				lp := loss()
				c.v[i] = old - 1e-2
				lm := loss()
				c.v[i] = old
				fd := (lp - lm) / 2e-2
				worst = math.Max(worst, math.Abs(fd-float64(c.g[i]))/math.Max(1, math.Abs(fd)))
			}
			t.Logf("dropout %v %s: max error %.2g", p, c.name, worst)
			if worst > 2e-3 {
				t.Errorf("dropout %v %s: finite differences differ by up to %.3g", p, c.name, worst)
			}
		}
	}
}

func TestKaimingBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	w := make([]float32, 10000)
	kaimingUniform(w, 64, math.Sqrt(5), rng)
	var mx float64
	for _, v := range w {
		mx = math.Max(mx, math.Abs(float64(v)))
	}
	// torch: bound = 1/sqrt(fan_in) for a = √5.
	if b := 1 / math.Sqrt(64); mx > b || mx < 0.99*b {
		t.Fatalf("max |A| = %v, want just under %v", mx, b)
	}
}

func TestLayerIndex(t *testing.T) {
	for name, want := range map[string]int{
		"model.layers.12.self_attn.q_proj": 12,
		"transformer.h.3.attn.c_attn":      3,
		"lm_head":                          -1,
	} {
		i, ok := layerIndex(name)
		if !ok {
			i = -1
		}
		if i != want {
			t.Errorf("layerIndex(%q) = %d, want %d", name, i, want)
		}
	}
}

// TestDropoutMask checks the mask over many blocks of inputs: the same on
// one and two threads, the share dropped within 5 standard deviations of
// p, kept inputs scaled by 1/(1-p), and no two blocks with the same mask
// (each has its own stream).
func TestDropoutMask(t *testing.T) {
	const p, n = 0.1, 40*dropoutBlock + 123
	st := &state{training: true, pcg: rand.NewPCG(3, 4)}
	st.rng = rand.New(st.pcg)
	l := newLinear("m", nn.NewLinear(8, 8, false), 2, 4, false, p, st)
	l.seed = 77
	x := make([]float32, n)
	for i := range x {
		x[i] = 2
	}
	masks := make([][]float32, 2)
	for th := 1; th <= 2; th++ {
		old := kernels.Threads()
		kernels.SetThreads(th)
		xd := l.dropout(x)
		kernels.SetThreads(old)
		masks[th-1] = slices.Clone(st.keep)
		for i, k := range st.keep {
			if xd[i] != x[i]*k || (k != 0 && k != float32(1/(1-p))) {
				t.Fatalf("input %d: keep %v, dropout(x) %v", i, k, xd[i])
			}
		}
	}
	if !slices.Equal(masks[0], masks[1]) {
		t.Fatal("the mask differs between 1 and 2 threads")
	}
	dropped := 0
	for _, k := range masks[0] {
		if k == 0 {
			dropped++
		}
	}
	if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(dropped)-n*p) > 5*sd {
		t.Errorf("dropped %d of %d, want %.0f ± %.0f", dropped, n, n*p, 5*sd)
	}
	if slices.Equal(masks[0][:dropoutBlock], masks[0][dropoutBlock:2*dropoutBlock]) {
		t.Error("two blocks have the same mask")
	}
}
