package ckpt

import (
	"math/rand/v2"
	"strings"

	"github.com/loftml/loft/nn"
)

// Randomizer fills a model's weights with random values in the way of
// the PyTorch benchmark's models: biases zero, other 1-D tensors (norm
// weights) one, matrices and embeddings N(0, 0.02), drawn in the order
// of the calls from one generator seeded with the model's seed.
type Randomizer struct{ rng *rand.Rand }

// NewRandomizer returns a Randomizer for seed.
func NewRandomizer(seed uint64) *Randomizer {
	return &Randomizer{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Fill fills dst, the tensor name (Hugging Face spelling) of dims
// dimensions.
func (r *Randomizer) Fill(name string, dst []float32, dims int) {
	switch {
	case strings.HasSuffix(name, ".bias"):
		nn.Fill(dst, 0)
	case dims == 1:
		nn.Fill(dst, 1)
	default:
		nn.FillNormal(dst, 0.02, r.rng)
	}
}
