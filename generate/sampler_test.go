package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// logitsOf returns log(p): softmax of it gives back p.
func logitsOf(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, v := range p {
		l[i] = float32(math.Log(v))
	}
	return l
}

// dist runs the sampler's processing of logits and returns the probability
// of every id (0 for those removed).
func dist(t *testing.T, cfg Sampling, logits []float32, history []int) []float64 {
	t.Helper()
	s, err := NewSampler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(logits))
	for _, c := range s.warp(s.penalized(logits, history)) {
		out[c.id] = c.p
	}
	return out
}

// softmaxOf is the reference softmax of hand values, with ids not in keep
// removed (keep nil keeps all).
func softmaxOf(x []float64, keep []int) []float64 {
	out := make([]float64, len(x))
	sum := 0.0
	for i, v := range x {
		if keep == nil || slices.Contains(keep, i) {
			out[i] = math.Exp(v)
			sum += out[i]
		}
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// closeTo compares probabilities; the sampler's exponentials are float32,
// so 1e-6 is a few ulp.
func closeTo(t *testing.T, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("probabilities %v, want %v (id %d differs by %g)", got, want, i, got[i]-want[i])
		}
	}
}

func kept(p []float64) []int {
	var ids []int
	for i, v := range p {
		if v > 0 {
			ids = append(ids, i)
		}
	}
	return ids
}

func TestTemperature(t *testing.T) {
	l := []float32{1, 2, 0.5, -1}
	for _, temp := range []float64{0.5, 1, 2} {
		want := softmaxOf([]float64{1 / temp, 2 / temp, 0.5 / temp, -1 / temp}, nil)
		closeTo(t, dist(t, Sampling{Temperature: temp}, l, nil), want, 1e-6)
	}
}

func TestTopKKeepsExactlyK(t *testing.T) {
	l := []float32{1, 5, 3, 4, 2, -7}
	for k, want := range map[int][]int{1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 5: {0, 1, 2, 3, 4}, 6: {0, 1, 2, 3, 4, 5}, 9: {0, 1, 2, 3, 4, 5}} {
		p := dist(t, Sampling{Temperature: 1, TopK: k}, l, nil)
		if got := kept(p); !slices.Equal(got, want) {
			t.Errorf("top-k %d kept %v, want %v", k, got, want)
		}
		// The kept tokens are renormalised among themselves.
		closeTo(t, p, softmaxOf([]float64{1, 5, 3, 4, 2, -7}, want), 1e-6)
	}
	// Ties with the k-th value stay, as in Hugging Face (scores < k-th are removed).
	p := dist(t, Sampling{Temperature: 1, TopK: 2}, []float32{3, 1, 3, 3}, nil)
	if got := kept(p); !slices.Equal(got, []int{0, 2, 3}) {
		t.Errorf("top-k 2 with a three-way tie kept %v, want [0 2 3]", got)
	}
}

// TestKthLargest holds both ways of kthLargest (window, quickselect) to a
// sort over inputs with many ties, infinities, sorted and reversed runs,
// for every k.
func TestKthLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]float64{{3}, {1, 1, 1, 1}, {math.Inf(1), 0, math.Inf(-1), 0}}
	for n := 2; n < 2*kWindow+70; n += 1 + n/8 {
		ties, sorted := make([]float64, n), make([]float64, n)
		wide := make([]float64, n)
		for i := range n {
			ties[i] = float64(rng.IntN(4))
			sorted[i] = float64(i)
			wide[i] = rng.NormFloat64() * 1e3
		}
		rev := slices.Clone(sorted)
		slices.Reverse(rev)
		inputs = append(inputs, ties, sorted, rev, wide)
	}
	for _, in := range inputs {
		want := slices.Clone(in)
		slices.Sort(want)
		slices.Reverse(want)
		for k := 1; k <= len(in); k++ {
			if got := kthLargest(slices.Clone(in), k); got != want[k-1] {
				t.Fatalf("k=%d of %v: %v, want %v", k, in, got, want[k-1])
			}
		}
	}
}

// BenchmarkTopK samples with a top-k from Qwen's 151936 logits; the cost
// must not grow with k (a sorted window took 345 ms a token at k=100000).
func BenchmarkTopK(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	logits := make([]float32, 151936)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	for _, k := range []int{50, kWindow, kWindow + 1, 20000, 100000} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			s, err := NewSampler(Sampling{Temperature: 1, TopK: k, TopP: 1, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.Sample(logits, nil)
			}
		})
	}
}

func TestTopPSmallestPrefix(t *testing.T) {
	l := logitsOf(0.15, 0.5, 0.05, 0.3) // sorted: 1 (0.5), 3 (0.3), 0 (0.15), 2 (0.05)
	for _, tc := range []struct {
		p    float64
		want []int
	}{
		{0.3, []int{1}},           // 0.5 already reaches 0.3
		{0.5, []int{1}},           // 0.5 reaches 0.5 exactly... up to rounding of log/exp
		{0.6, []int{1, 3}},        // 0.5 < 0.6 <= 0.8
		{0.79, []int{1, 3}},       //
		{0.9, []int{0, 1, 3}},     // 0.8 < 0.9 <= 0.95
		{0.99, []int{0, 1, 2, 3}}, // all
	} {
		p := dist(t, Sampling{Temperature: 1, TopP: tc.p}, l, nil)
		if tc.p == 0.5 { // 0.5 is on the edge: one token or two both fit rounding
			if g := kept(p); len(g) > 2 || g[0] != 1 && g[len(g)-1] != 1 {
				t.Errorf("top-p 0.5 kept %v", g)
			}
			continue
		}
		if got := kept(p); !slices.Equal(got, tc.want) {
			t.Errorf("top-p %v kept %v, want %v", tc.p, got, tc.want)
		}
		closeTo(t, p, softmaxOf([]float64{math.Log(0.15), math.Log(0.5), math.Log(0.05), math.Log(0.3)}, tc.want), 1e-6)
	}
	// A big vocabulary, where the (1-p)/(n-1) cut drops most tokens before
	// sorting: the result equals the plain rule on the sorted list.
	n := 5000
	l = make([]float32, n)
	for i := range l {
		l[i] = float32(math.Sin(float64(i)*1.7) * 6)
	}
	for _, topP := range []float64{0.1, 0.5, 0.9, 0.999} {
		p := dist(t, Sampling{Temperature: 1, TopP: topP}, l, nil)
		full := dist(t, Sampling{Temperature: 1}, l, nil)
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return -cmpFloat(full[a], full[b]) })
		var want []int
		before := 0.0
		for _, id := range order {
			if before >= topP {
				break
			}
			want = append(want, id)
			before += full[id]
		}
		slices.Sort(want)
		if got := kept(p); !slices.Equal(got, want) {
			t.Errorf("top-p %v on %d tokens kept %d tokens, want %d", topP, n, len(got), len(want))
		}
	}
}

func TestMinP(t *testing.T) {
	l := logitsOf(0.5, 0.3, 0.15, 0.05)
	for _, tc := range []struct {
		minP float64
		want []int
	}{
		{0.05, []int{0, 1, 2, 3}}, // threshold 0.025
		{0.2, []int{0, 1, 2}},     // threshold 0.1
		{0.5, []int{0, 1}},        // threshold 0.25
		{0.7, []int{0}},           // threshold 0.35
		{1, []int{0}},
	} {
		p := dist(t, Sampling{Temperature: 1, MinP: tc.minP}, l, nil)
		if got := kept(p); !slices.Equal(got, tc.want) {
			t.Errorf("min-p %v kept %v, want %v", tc.minP, got, tc.want)
		}
	}
}

func TestRepetitionPenalty(t *testing.T) {
	// Seen tokens 0 (positive logit: divided) and 1 (negative: multiplied);
	// token 0 seen twice is penalised once.
	l := []float32{2, -2, 1, 0.5}
	p := dist(t, Sampling{Temperature: 1, RepetitionPenalty: 2}, l, []int{0, 1, 0})
	closeTo(t, p, softmaxOf([]float64{1, -4, 1, 0.5}, nil), 1e-6)
	// A penalty below 1 favours repeats.
	p = dist(t, Sampling{Temperature: 1, RepetitionPenalty: 0.5}, l, []int{1})
	closeTo(t, p, softmaxOf([]float64{2, -1, 1, 0.5}, nil), 1e-6)
	// It applies in greedy decoding too: 2/2 = 1 < 1.5.
	s, _ := NewSampler(Sampling{RepetitionPenalty: 2})
	if got := s.Sample([]float32{2, 1.5}, []int{0}); got != 1 {
		t.Errorf("greedy with penalty picked %d, want 1", got)
	}
}

// TestOrder checks the order of the steps on a case where another order
// gives another set: penalty, temperature, top-k, top-p, min-p.
func TestOrder(t *testing.T) {
	l := []float32{4, 3, 2.5, 1, 0}
	cfg := Sampling{Temperature: 0.5, TopK: 4, TopP: 0.97, MinP: 0.02, RepetitionPenalty: 4}
	// Penalty on id 0: 4/4 = 1. Temperature: {2, 6, 5, 2, 0}. Top-4 drops id 4.
	// Softmax of {2, 6, 5, 2}: 0.0130, 0.7120, 0.2619, 0.0130.
	// Top-p 0.97: ids 1, 2 hold 0.974 >= 0.97, so ids 0 and 3 go.
	// Min-p 0.02 of 0.731 (renormalised) keeps both left.
	// Temperature after top-p would keep four ids (at T=1 the top three
	// hold only 0.904), and no penalty would make id 0 the most likely.
	p := dist(t, cfg, l, []int{0})
	if got := kept(p); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("kept %v, want [1 2]", got)
	}
	closeTo(t, p, softmaxOf([]float64{0, 6, 5, 0, 0}, []int{1, 2}), 1e-6)
}

func TestGreedy(t *testing.T) {
	s, _ := NewSampler(Sampling{})
	for _, tc := range []struct {
		l    []float32
		want int
	}{
		{[]float32{0, 3, 1}, 1},
		{[]float32{-5, -3, -4}, 1},
		{[]float32{2, 2, 1}, 0}, // first of a tie
	} {
		if got := s.Sample(tc.l, nil); got != tc.want {
			t.Errorf("greedy on %v picked %d, want %d", tc.l, got, tc.want)
		}
	}
}

func TestSeededReproducible(t *testing.T) {
	l := make([]float32, 100)
	for i := range l {
		l[i] = float32(math.Cos(float64(i)))
	}
	draw := func(seed uint64) []int {
		s, _ := NewSampler(Sampling{Temperature: 1.3, TopK: 50, TopP: 0.95, Seed: seed})
		var ids []int
		for range 200 {
			ids = append(ids, s.Sample(l, nil))
		}
		return ids
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different draws")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same 200 draws")
	}
}

// TestDistribution samples many times from a fixed distribution and checks
// the counts with Pearson's chi-square test (3 degrees of freedom; 16.27 is
// the 0.999 quantile, and the seed is fixed, so the test is deterministic).
func TestDistribution(t *testing.T) {
	want := []float64{0.5, 0.3, 0.15, 0.05}
	for _, cfg := range []Sampling{
		{Temperature: 1, Seed: 1},
		{Temperature: 1, TopK: 4, TopP: 1, MinP: 0.01, Seed: 2},
	} {
		s, _ := NewSampler(cfg)
		const n = 100000
		counts := make([]int, len(want))
		l := logitsOf(want...)
		for range n {
			counts[s.Sample(l, nil)]++
		}
		chi2 := 0.0
		for i, p := range want {
			e := p * n
			chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
		}
		if chi2 > 16.27 {
			t.Errorf("%+v: counts %v for p %v: chi-square %.2f > 16.27", cfg, counts, want, chi2)
		}
	}
	// With temperature 2 the distribution flattens to p^(1/2), renormalised.
	s, _ := NewSampler(Sampling{Temperature: 2, Seed: 3})
	flat := make([]float64, len(want))
	sum := 0.0
	for i, p := range want {
		flat[i] = math.Sqrt(p)
		sum += flat[i]
	}
	counts := make([]int, len(want))
	const n = 100000
	for range n {
		counts[s.Sample(logitsOf(want...), nil)]++
	}
	chi2 := 0.0
	for i := range flat {
		e := flat[i] / sum * n
		chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
	}
	if chi2 > 16.27 {
		t.Errorf("temperature 2: counts %v: chi-square %.2f > 16.27", counts, chi2)
	}
}

// TestInfiniteLogits checks that a broken model's logits do not crash the
// sampler.
func TestInfiniteLogits(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, l := range [][]float32{
		{1, inf, 2}, {inf, inf, 0}, {float32(math.NaN()), 1, 2}, {float32(math.Inf(-1)), float32(math.Inf(-1))},
	} {
		s, _ := NewSampler(Sampling{Temperature: 1, TopK: 2, TopP: 0.5, MinP: 0.1, RepetitionPenalty: 1.2})
		if id := s.Sample(l, []int{0}); id < 0 || id >= len(l) {
			t.Errorf("%v: id %d", l, id)
		}
	}
}

func TestSamplingValidate(t *testing.T) {
	for _, bad := range []Sampling{
		{Temperature: -1}, {Temperature: math.NaN()}, {TopK: -1}, {TopP: 1.5}, {TopP: -0.1},
		{MinP: 2}, {RepetitionPenalty: -1}, {RepetitionPenalty: math.Inf(1)},
	} {
		if _, err := NewSampler(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
