package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/loftml/loft/format/safetensors"
	"github.com/loftml/loft/nn"
	"github.com/loftml/loft/optim"
)

// bigram is a fake model.Trainable: logits of a position are
// base[id] + drop·P[id] for a frozen (V, V) table base and a trainable one P,
// where drop is inverted dropout (one draw per position from rng, as LoRA
// dropout draws). Its loss and gradient are worked out by hand below, and
// checked against finite differences in TestBigramGradient.
type bigram struct {
	V     int
	base  []float32 // (V, V)
	P     optim.Param
	pDrop float64
	rng   *rand.PCG

	// saved by ForwardLoss for Backward
	ids, targets []int32
	keep         []float32 // (B·T) dropout factor of each position
	probs        []float64 // (B·T, V)

	evaluating bool // dropout off (Trainer.SetTraining(false))

	nanAt  int         // ForwardLoss call (1-based) that returns NaN; 0: never
	calls  int         // ForwardLoss calls so far
	onCall func(n int) // called at the start of each ForwardLoss
}

func newBigram(V int, seed uint64, pDrop float64) *bigram {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &bigram{V: V, base: make([]float32, V*V), pDrop: pDrop, rng: rand.NewPCG(seed, 2)}
	for i := range m.base {
		m.base[i] = float32(r.NormFloat64())
	}
	w := make([]float32, V*V)
	for i := range w {
		w[i] = float32(0.1 * r.NormFloat64())
	}
	m.P = optim.Param{Name: "base_model.model.table.lora_A.weight", W: w, G: make([]float32, V*V)}
	return m
}

func (m *bigram) VocabSize() int                     { return m.V }
func (m *bigram) ContextLength() int                 { return 1 << 20 }
func (m *bigram) NewCache(B, maxLen int) *nn.KVCache { return nil }
func (m *bigram) Slots() []nn.Slot                   { return nil }
func (m *bigram) Forward(cache *nn.KVCache, ids []int32, B, T int, logits []float32, lastOnly bool) error {
	return errors.New("bigram: Forward not implemented")
}

func (m *bigram) ForwardLoss(ids, targets []int32, B, T int) (float64, int, error) {
	m.calls++
	if m.onCall != nil {
		m.onCall(m.calls)
	}
	if len(ids) != B*T || len(targets) != B*T {
		return 0, 0, fmt.Errorf("bigram: shape (%d, %d) with %d ids", B, T, len(ids))
	}
	m.ids, m.targets = ids, targets
	m.keep = make([]float32, B*T)
	m.probs = make([]float64, B*T*m.V)
	r := rand.New(m.rng)
	var sum float64
	n := 0
	for p, id := range ids {
		m.keep[p] = 1
		if m.pDrop > 0 && !m.evaluating {
			m.keep[p] = 0
			if r.Float64() >= m.pDrop {
				m.keep[p] = float32(1 / (1 - m.pDrop))
			}
		}
		if targets[p] == Ignore {
			continue
		}
		pr := m.probs[p*m.V : (p+1)*m.V]
		mx := math.Inf(-1)
		for v := range pr {
			pr[v] = float64(m.base[int(id)*m.V+v]) + float64(m.keep[p])*float64(m.P.W[int(id)*m.V+v])
			mx = max(mx, pr[v])
		}
		var z float64
		for v := range pr {
			pr[v] = math.Exp(pr[v] - mx)
			z += pr[v]
		}
		for v := range pr {
			pr[v] /= z
		}
		sum -= math.Log(pr[targets[p]])
		n++
	}
	if m.nanAt == m.calls {
		sum = math.NaN()
	}
	return sum, n, nil
}

// EvalLoss is ForwardLoss: the fake keeps what Backward needs either way.
func (m *bigram) EvalLoss(ids, targets []int32, B, T int) (float64, int, error) {
	return m.ForwardLoss(ids, targets, B, T)
}

// Backward: dloss/dlogit = probs - onehot(target); dP[id] += scale·keep·that.
func (m *bigram) Backward(scale float32) error {
	for p, id := range m.ids {
		if m.targets[p] == Ignore {
			continue
		}
		for v := range m.V {
			d := m.probs[p*m.V+v]
			if v == int(m.targets[p]) {
				d--
			}
			m.P.G[int(id)*m.V+v] += scale * m.keep[p] * float32(d)
		}
	}
	return nil
}

// saveAdapter writes the parameters as a PEFT-named safetensors file.
func saveParams(params []optim.Param) func(dir string) error {
	return func(dir string) error {
		var ts []safetensors.Tensor
		for _, p := range params {
			ts = append(ts, safetensors.Tensor{Name: p.Name, DType: safetensors.F32, Shape: []int{len(p.W)}, Values: p.W})
		}
		return safetensors.Write(filepath.Join(dir, adapterFile), ts, map[string]string{"format": "pt"})
	}
}

// shuffled is Data whose epoch order is a permutation drawn from
// (seed, epoch), as the data package's Batcher shuffles.
type shuffled struct {
	b    Batches
	seed uint64
}

func (s shuffled) Len() int { return len(s.b) }
func (s shuffled) Batch(epoch, i int) (Batch, error) {
	perm := rand.New(rand.NewPCG(s.seed, uint64(epoch))).Perm(len(s.b))
	return s.b[perm[i]], nil
}

// randBatches returns n batches (B, T) of ids in [0, V) with the last
// position of some rows ignored, so counts differ between batches.
func randBatches(n, B, T, V int, seed uint64) Batches {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make(Batches, n)
	for k := range out {
		b := Batch{IDs: make([]int32, B*T), Targets: make([]int32, B*T), B: B, T: T}
		for i := range b.IDs {
			b.IDs[i] = int32(r.IntN(V))
			b.Targets[i] = int32(r.IntN(V))
		}
		for row := range B {
			for t := T - r.IntN(T); t < T; t++ { // right padding
				b.Targets[row*T+t] = Ignore
			}
		}
		out[k] = b
	}
	return out
}
