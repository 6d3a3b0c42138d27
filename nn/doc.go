// Package nn holds the layers that model architectures share (Linear and
// its slots, Embedding, norms, attention, MLPs) and the KV cache, built on
// kernels. Architectures live in model/<arch> and compose these layers;
// architecture differences never leak in here as if-chains.
package nn
