package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/loftml/loft/kernels"
)

// Sampling holds the settings that pick the next token from logits. The
// zero value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax).
	Temperature float64
	// TopK keeps the TopK highest logits (and any tied with the last); 0 is off.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches TopP (nucleus sampling); 1 (or 0, unset) is off.
	TopP float64
	// MinP drops tokens whose probability is below MinP times the most
	// likely token's; 0 is off.
	MinP float64
	// RepetitionPenalty divides the positive logits of tokens already in the
	// sequence (prompt included) and multiplies their negative ones, as in
	// Hugging Face (CTRL paper); 1 (or 0, unset) is off.
	RepetitionPenalty float64
	// Seed seeds the PCG random generator: the same seed gives the same text.
	Seed uint64
}

// Validate reports the first setting out of its range, naming it as the
// command line does.
func (s Sampling) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("temperature must be a finite number >= 0, got %v", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("top-k must be >= 0 (0 is off), got %d", s.TopK)
	case s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.TopP):
		return fmt.Errorf("top-p must be in (0, 1] (1 is off), got %v", s.TopP)
	case s.MinP < 0 || s.MinP > 1 || math.IsNaN(s.MinP):
		return fmt.Errorf("min-p must be in [0, 1] (0 is off), got %v", s.MinP)
	case s.RepetitionPenalty < 0 || math.IsNaN(s.RepetitionPenalty) || math.IsInf(s.RepetitionPenalty, 0):
		return fmt.Errorf("repetition-penalty must be a finite number > 0 (1 is off), got %v", s.RepetitionPenalty)
	}
	return nil
}

// Greedy tells whether s always picks the most likely token.
func (s Sampling) Greedy() bool { return s.Temperature == 0 }

// cand is a token still in the running, with its current score.
type cand struct {
	id    int
	score float64 // processed logit
	p     float64 // probability, where a step computed it
}

// Sampler picks next tokens with one Sampling and its own random stream.
// It keeps scratch buffers, so it is not safe for concurrent use; give each
// row of a batch its own.
type Sampler struct {
	cfg    Sampling
	rng    *rand.Rand
	scores []float64 // (V) processed logits
	sel    []float64 // (V) top-k's scratch
	ex     []float32 // (V) exponentials
	cands  []cand
	seen   map[int]bool
}

// pcgStream is the PCG stream constant paired with the user's seed.
const pcgStream = 0x6c6f6674 // "loft"

// NewSampler returns a sampler for cfg, or an error when a setting is out
// of range.
func NewSampler(cfg Sampling) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, pcgStream)), seen: map[int]bool{}}, nil
}

// Sample returns the next token for logits (V), given history, the ids of
// the sequence so far (prompt and generated), which the repetition penalty
// reads. It does not change logits.
func (s *Sampler) Sample(logits []float32, history []int) int {
	if pen := s.cfg.RepetitionPenalty; s.cfg.Greedy() && (pen == 0 || pen == 1) {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	sc := s.penalized(logits, history)
	if s.cfg.Greedy() {
		return argmax(sc)
	}
	c := s.warp(sc)
	if len(c) == 0 { // every logit -Inf or NaN: nothing to sample from
		return argmax(sc)
	}
	u := s.rng.Float64()
	acc := 0.0
	for _, x := range c {
		acc += x.p
		if u < acc {
			return x.id
		}
	}
	return c[len(c)-1].id // u beyond the rounded total
}

// penalized returns the logits (V) as float64, with the repetition
// penalty applied once per distinct token of history (Hugging Face gathers
// the original logits, so repeats are not penalised twice).
func (s *Sampler) penalized(logits []float32, history []int) []float64 {
	s.scores = slices.Grow(s.scores[:0], len(logits))[:len(logits)]
	sc := s.scores
	for i, v := range logits {
		sc[i] = float64(v)
	}
	pen := s.cfg.RepetitionPenalty
	if pen == 0 || pen == 1 {
		return sc
	}
	clear(s.seen)
	for _, id := range history {
		if id < 0 || id >= len(sc) || s.seen[id] {
			continue
		}
		s.seen[id] = true
		if sc[id] < 0 {
			sc[id] *= pen
		} else {
			sc[id] /= pen
		}
	}
	return sc
}

// warp applies temperature, top-k, top-p and min-p to the penalised
// scores sc (V), in that order, and returns the candidates left with their
// probabilities (softmax over what is left).
func (s *Sampler) warp(sc []float64) []cand {
	cfg := s.cfg
	if cfg.Temperature != 1 {
		for i := range sc {
			sc[i] /= cfg.Temperature
		}
	}
	c := s.cands[:0]
	for i, v := range sc {
		if !math.IsInf(v, -1) && !math.IsNaN(v) {
			c = append(c, cand{id: i, score: v})
		}
	}
	if len(c) == 0 {
		return nil
	}
	// Each step works on what the previous one left.
	if cfg.TopK > 0 && cfg.TopK < len(c) {
		c = s.topK(c, cfg.TopK)
	}
	if cfg.TopP > 0 && cfg.TopP < 1 {
		c = s.topP(c, cfg.TopP)
	}
	if cfg.MinP > 0 {
		c = s.minP(c, cfg.MinP)
	}
	s.cands = c
	s.softmax(c)
	return c
}

// argmax returns the index of the largest value, the first one on ties
// (as torch.argmax and llama2.c do).
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// softmax sets c[i].p = exp(score_i - max) / Σ. The exponentials are
// float32 (the vector kernel: a vocabulary costs microseconds, not the
// milliseconds of math.Exp), within a few float32 ulp; sums are float64.
func (s *Sampler) softmax(c []cand) {
	m := math.Inf(-1)
	for _, x := range c {
		m = max(m, x.score)
	}
	s.ex = slices.Grow(s.ex[:0], len(c))[:len(c)]
	for i, x := range c {
		s.ex[i] = float32(x.score - m)
	}
	kernels.Exp(s.ex, s.ex)
	sum := 0.0
	for _, e := range s.ex {
		sum += float64(e)
	}
	for i, e := range s.ex {
		c[i].p = float64(e) / sum
	}
}

// topK keeps the candidates whose score is at least the k-th largest, as
// Hugging Face's TopKLogitsWarper does (ties with the k-th are kept).
func (s *Sampler) topK(c []cand, k int) []cand {
	s.sel = slices.Grow(s.sel[:0], len(c))[:len(c)]
	for i, x := range c {
		s.sel[i] = x.score
	}
	kth := kthLargest(s.sel, k)
	out := c[:0]
	for _, x := range c {
		if x.score >= kth {
			out = append(out, x)
		}
	}
	return out
}

// kthLargest returns the k-th largest value of x (1 <= k <= len(x), no
// NaN), reordering x. Up to kWindow it keeps the k largest seen in a sorted
// window: one comparison per value once the window has filled (91 µs over
// Qwen's 151936 logits for k = 50). Beyond, the window's insertions cost
// len(x)·k (345 ms a token for k = 100000), so a quickselect takes over
// (Hoare partition around the median of three), linear on average in
// len(x) whatever k is (1.2-1.4 ms there).
func kthLargest(x []float64, k int) float64 {
	if k <= kWindow {
		win := make([]float64, 0, k) // descending
		for _, v := range x {
			if len(win) == k {
				if v <= win[k-1] {
					continue
				}
				win = win[:k-1]
			}
			i, _ := slices.BinarySearchFunc(win, v, func(a, b float64) int { return -cmpFloat(a, b) })
			win = slices.Insert(win, i, v)
		}
		return win[k-1]
	}
	t := k - 1 // its index once x is in descending order
	lo, hi := 0, len(x)-1
	for lo < hi {
		a, b, c := x[lo], x[lo+(hi-lo)/2], x[hi]
		p := max(min(a, b), min(max(a, b), c)) // median of three
		i, j := lo, hi
		for i <= j {
			for x[i] > p {
				i++
			}
			for x[j] < p {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i, j = i+1, j-1
			}
		}
		// x[lo..j] >= p >= x[i..hi], and x[j+1..i-1] == p.
		switch {
		case t <= j:
			hi = j
		case t >= i:
			lo = i
		default:
			return x[t]
		}
	}
	return x[t]
}

// kWindow is the largest k that kthLargest finds with a sorted window.
const kWindow = 256

// topP keeps the smallest set of most likely candidates whose probability
// reaches p: sorted by falling probability, a token stays when the mass
// before it is below p (Hugging Face's TopPLogitsWarper removes a token
// when the ascending cumulative sum up to it is <= 1-p). At least one
// token stays.
//
// Sorting a whole vocabulary would cost milliseconds, so tokens go first
// into buckets by score (log-probability) below the maximum: every token
// of a bucket is more likely than every token of the buckets after it.
// The buckets before the one where the running mass reaches p are kept
// whole, the buckets after it dropped whole, and only that one bucket is
// sorted.
func (s *Sampler) topP(c []cand, p float64) []cand {
	s.softmax(c)
	const nb, span = 1024, 40.0 // buckets over (max-span, max]; below: the last
	top := math.Inf(-1)
	for _, x := range c {
		top = max(top, x.score)
	}
	bucket := func(x cand) int {
		d := (top - x.score) * (nb / span)
		if !(d < nb-1) { // far below, or NaN from an infinite logit
			return nb - 1
		}
		return int(d)
	}
	var mass [nb]float64
	for _, x := range c {
		mass[bucket(x)] += x.p
	}
	edge, before := nb-1, 0.0 // the bucket where p is reached, the mass before it
	for b := range nb {
		if before+mass[b] >= p {
			edge = b
			break
		}
		before += mass[b]
	}
	out := c[:0]
	var tail []cand // the edge bucket
	for _, x := range c {
		switch b := bucket(x); {
		case b < edge:
			out = append(out, x)
		case b == edge:
			tail = append(tail, x)
		}
	}
	slices.SortStableFunc(tail, func(a, b cand) int { return -cmpFloat(a.p, b.p) })
	for i, x := range tail {
		if (len(out) > 0 || i > 0) && before >= p {
			break
		}
		out = append(out, x)
		before += x.p
	}
	return out
}

// minP keeps the candidates whose probability is at least p times the
// largest probability (Hugging Face's MinPLogitsWarper).
func (s *Sampler) minP(c []cand, p float64) []cand {
	s.softmax(c)
	top := 0.0
	for _, x := range c {
		top = max(top, x.p)
	}
	out := c[:0]
	for _, x := range c {
		if x.p >= p*top {
			out = append(out, x)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
