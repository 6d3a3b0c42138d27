package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScheduleHandValues(t *testing.T) {
	// Values of transformers' lr_lambda worked by hand for warmup 2, total 10.
	cases := []struct {
		kind ScheduleKind
		want []float64 // steps 0..10
	}{
		{Constant, []float64{0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		// (10 - s) / 8 after warmup.
		{Linear, []float64{0, 0.5, 1, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8, 0}},
		// 0.5·(1 + cos(π·(s-2)/8)).
		{Cosine, []float64{0, 0.5, 1,
			0.5 * (1 + math.Cos(math.Pi/8)), 0.5 * (1 + math.Sqrt2/2), 0.5 * (1 + math.Cos(3*math.Pi/8)),
			0.5, 0.5 * (1 - math.Cos(3*math.Pi/8)), 0.5 * (1 - math.Sqrt2/2), 0.5 * (1 - math.Cos(math.Pi/8)), 0}},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			s := Schedule{Kind: c.kind, LR: 2e-3, Warmup: 2, Total: 10}
			for step, w := range c.want {
				if got := s.At(step); math.Abs(got-2e-3*w) > 1e-15 {
					t.Errorf("step %d: lr %g, want %g", step, got, 2e-3*w)
				}
			}
			// Past the end linear stays at 0 (max(0, ·)); cosine follows
			// transformers' formula, which rises again.
			if c.kind == Linear && s.At(12) != 0 {
				t.Errorf("step 12: lr %g, want 0", s.At(12))
			}
		})
	}
	// No warmup: step 0 already has the full rate.
	if got := (Schedule{Kind: Cosine, LR: 1, Total: 4}).At(0); got != 1 {
		t.Errorf("cosine without warmup at step 0: %g, want 1", got)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, s := range []string{"constant", "linear", "cosine"} {
		if k, err := ParseSchedule(s); err != nil || string(k) != s {
			t.Errorf("ParseSchedule(%q) = %q, %v", s, k, err)
		}
	}
	if _, err := ParseSchedule("step"); err == nil {
		t.Error("ParseSchedule(step) accepted")
	}
}

func TestScheduleCheck(t *testing.T) {
	good := []Schedule{
		{Kind: Constant, LR: 1e-3},
		{Kind: Linear, LR: 1e-3, Warmup: 2, Total: 1},
		{Kind: Cosine, LR: 1e-3, Total: 10},
	}
	for _, s := range good {
		if err := s.Check(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := []struct {
		s    Schedule
		want string
	}{
		{Schedule{Kind: "Cosine", LR: 1e-3, Total: 10}, `unknown schedule "Cosine"`},
		{Schedule{Kind: Constant, LR: 0}, "learning rate must be positive, got 0"},
		{Schedule{Kind: Constant, LR: math.NaN()}, "learning rate must be positive"},
		{Schedule{Kind: Constant, LR: 1e-3, Warmup: -1}, "warmup steps must not be negative"},
		// At gives 0 at every step of these.
		{Schedule{Kind: Linear, LR: 1e-3}, "a linear schedule needs the run's total steps, got 0"},
		{Schedule{Kind: Cosine, LR: 1e-3, Warmup: 5}, "a cosine schedule needs the run's total steps"},
	}
	for _, c := range bad {
		if err := c.s.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
	}
	if s := (Schedule{Kind: Linear, LR: 1e-3}); s.At(0) != 0 || s.At(3) != 0 {
		t.Error("a linear schedule without Total no longer runs at 0: update Check")
	}
}

func TestAdamWFirstStepByHand(t *testing.T) {
	// Step 1: decay p -= lr·wd·p = 1 - 0.1·0.01 = 0.999; m̂ = g, v̂ = g², so
	// the update is lr·g/(|g| + eps) = 0.1·0.5/(0.5+1e-8).
	p := []Param{{Name: "w", W: []float32{1, -2}, G: []float32{0.5, -0.25}}}
	o := NewAdamW(p, 0.01)
	o.Step(0.1)
	want := []float64{0.999 - 0.1*0.5/(0.5+1e-8), -2*0.999 + 0.1*0.25/(0.25+1e-8)}
	for i, w := range want {
		if math.Abs(float64(p[0].W[i])-w) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, p[0].W[i], w)
		}
	}
	if o.T != 1 {
		t.Errorf("T = %d, want 1", o.T)
	}
}

// adamwRef is torch.optim.AdamW's single-tensor algorithm in float64.
func adamwRef(p, g [][]float64, lrs []float64, wd float64) {
	m := make([]float64, len(p[0]))
	v := make([]float64, len(p[0]))
	for t := 1; t <= len(lrs); t++ {
		lr := lrs[t-1]
		for i := range p[0] {
			x := p[t-1][i] * (1 - lr*wd)
			m[i] = 0.9*m[i] + 0.1*g[t-1][i]
			v[i] = 0.999*v[i] + 0.001*g[t-1][i]*g[t-1][i]
			bc1 := 1 - math.Pow(0.9, float64(t))
			bc2 := 1 - math.Pow(0.999, float64(t))
			x -= lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + 1e-8)
			p[t][i] = x
		}
	}
}

func TestAdamWMatchesTorchAlgorithm(t *testing.T) {
	const n, steps = 37, 5
	gs := make([][]float64, steps)
	ps := make([][]float64, steps+1)
	ps[0] = make([]float64, n)
	for i := range ps[0] {
		ps[0][i] = float64(float32(math.Sin(float64(i))))
	}
	for s := range gs {
		gs[s] = make([]float64, n)
		for i := range gs[s] {
			gs[s][i] = float64(float32(0.3 * math.Cos(float64(i*(s+2)))))
		}
		ps[s+1] = make([]float64, n)
	}
	lrs := []float64{1e-3, 2e-3, 5e-4, 1e-3, 3e-3}
	adamwRef(ps, gs, lrs, 0.1)

	w := make([]float32, n)
	g := make([]float32, n)
	for i := range w {
		w[i] = float32(ps[0][i])
	}
	o := NewAdamW([]Param{{Name: "x", W: w, G: g}}, 0.1)
	for s := range steps {
		for i := range g {
			g[i] = float32(gs[s][i])
		}
		o.Step(lrs[s])
	}
	var worst float64
	for i := range w {
		worst = max(worst, math.Abs(float64(w[i])-ps[steps][i]))
	}
	if worst > 2e-6 {
		t.Errorf("max |w - ref| = %g after %d steps", worst, steps)
	}
	t.Logf("max |w - float64 ref| = %.2g", worst)
}

func TestClipGradNorm(t *testing.T) {
	p := []Param{
		{Name: "a", W: make([]float32, 1), G: []float32{3}},
		{Name: "b", W: make([]float32, 1), G: []float32{4}},
	}
	if n := GradNorm(p); math.Abs(n-5) > 1e-12 {
		t.Fatalf("GradNorm = %v, want 5", n)
	}
	if n := ClipGradNorm(p, 0); n != 5 || p[0].G[0] != 3 {
		t.Fatalf("ClipGradNorm(0) = %v and changed g to %v; want 5, unchanged", n, p[0].G[0])
	}
	if n := ClipGradNorm(p, 10); n != 5 || p[1].G[0] != 4 {
		t.Fatalf("ClipGradNorm(10) = %v, g %v; want 5, unchanged", n, p[1].G[0])
	}
	if n := ClipGradNorm(p, 1); n != 5 {
		t.Fatalf("ClipGradNorm(1) = %v, want 5", n)
	}
	c := 1 / (5 + 1e-6)
	if math.Abs(float64(p[0].G[0])-3*c) > 1e-7 || math.Abs(float64(p[1].G[0])-4*c) > 1e-7 {
		t.Errorf("clipped grads %v %v, want %v %v", p[0].G[0], p[1].G[0], 3*c, 4*c)
	}
	ZeroGrad(p)
	if p[0].G[0] != 0 || p[1].G[0] != 0 || Count(p) != 2 {
		t.Errorf("ZeroGrad left %v %v; Count %d", p[0].G[0], p[1].G[0], Count(p))
	}
}

// refOptim is testdata/ref/optim/expected.json (tools/ref/gen_train.py):
// torch's LambdaLR with transformers' lr_lambda functions, and
// torch.optim.AdamW with clip_grad_norm_ on fixed gradients, in float64.
type refOptim struct {
	Schedules []struct {
		Kind          ScheduleKind
		Warmup, Total int
		LR            float64
		LRs           []float64
	}
	Shapes [][]int
	Init   []float32
	Grads  [][]float32
	AdamW  []struct {
		Kind          ScheduleKind
		Warmup, Total int
		LR            float64
		WeightDecay   float64 `json:"weight_decay"`
		MaxGradNorm   float64 `json:"max_grad_norm"`
		Betas         []float64
		Eps           float64
		LRs           []float64
		GradNorms     []float64 `json:"grad_norms"`
		Final         []float64
	}
}

func readRefOptim(t *testing.T) refOptim {
	t.Helper()
	path := filepath.Join("..", "testdata", "ref", "optim", "expected.json")
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref refOptim
	if err := json.Unmarshal(buf, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ref
}

// TestScheduleMatchesPyTorch: the rate of every step, the first (0 with
// warmup) and the last included, is the one torch's LambdaLR holds when the
// optimizer takes that step, the scheduler stepped after each update as
// transformers' Trainer steps it.
func TestScheduleMatchesPyTorch(t *testing.T) {
	ref := readRefOptim(t)
	if len(ref.Schedules) == 0 {
		t.Fatal("no schedules in the fixture")
	}
	for _, c := range ref.Schedules {
		s := Schedule{Kind: c.Kind, LR: c.LR, Warmup: c.Warmup, Total: c.Total}
		for step, want := range c.LRs {
			if got := s.At(step); math.Abs(got-want) > 1e-15*c.LR {
				t.Errorf("%s warmup %d total %d: step %d lr %.17g, PyTorch %.17g", c.Kind, c.Warmup, c.Total, step, got, want)
			}
		}
	}
}

// TestAdamWClipScheduleMatchPyTorch runs the fixture's steps as Trainer.Step
// ends each one: clip the global norm, then AdamW at the schedule's rate;
// weight decay, clipping (about half the steps) and warmup all act.
func TestAdamWClipScheduleMatchPyTorch(t *testing.T) {
	ref := readRefOptim(t)
	for _, c := range ref.AdamW {
		t.Run(fmt.Sprintf("%s-warmup%d", c.Kind, c.Warmup), func(t *testing.T) {
			var params []Param
			off := 0
			for i, shape := range ref.Shapes {
				n := 1
				for _, d := range shape {
					n *= d
				}
				params = append(params, Param{Name: fmt.Sprint("p", i), W: slices.Clone(ref.Init[off : off+n]), G: make([]float32, n)})
				off += n
			}
			o := NewAdamW(params, c.WeightDecay)
			if o.Beta1 != c.Betas[0] || o.Beta2 != c.Betas[1] || o.Eps != c.Eps {
				t.Fatalf("NewAdamW has betas %v/%v, eps %v; the reference %v, %v", o.Beta1, o.Beta2, o.Eps, c.Betas, c.Eps)
			}
			s := Schedule{Kind: c.Kind, LR: c.LR, Warmup: c.Warmup, Total: c.Total}
			for step := range c.Total {
				off := 0
				for _, p := range params {
					copy(p.G, ref.Grads[step][off:])
					off += len(p.G)
				}
				norm := ClipGradNorm(params, c.MaxGradNorm)
				if math.Abs(norm-c.GradNorms[step]) > 1e-6*c.GradNorms[step] {
					t.Errorf("step %d: grad norm %.9g, PyTorch %.9g", step, norm, c.GradNorms[step])
				}
				lr := s.At(step)
				if math.Abs(lr-c.LRs[step]) > 1e-15*c.LR {
					t.Errorf("step %d: lr %.17g, PyTorch %.17g", step, lr, c.LRs[step])
				}
				o.Step(lr)
			}
			var worst float64
			i := 0
			for _, p := range params {
				for _, w := range p.W {
					worst = max(worst, math.Abs(float64(w)-c.Final[i]))
					i++
				}
			}
			// A float32 torch run of the same steps lands within 1.1e-6.
			if worst > 5e-6 {
				t.Errorf("after %d steps: max |w - PyTorch| = %.3g", c.Total, worst)
			}
			t.Logf("after %d steps: max |w - PyTorch float64| = %.2g", c.Total, worst)
		})
	}
}
