// Package nn holds the layers that model architectures share (Linear and
// its slots, Embedding, norms, attention) and the KV cache, built on
// kernels. Architectures live in model/<arch> and compose these layers;
// architecture differences never leak in here as if-chains.
//
// Training (issue 5) builds on three choices made here:
//   - every projection is an nn.LinearLayer held in a model field and
//     exposed as an nn.Slot named by its Hugging Face/PEFT module path, so
//     lora.Apply wraps layers in place;
//   - each architecture's forward saves its activations in an Acts struct
//     allocated once per (B, T) shape (llm.c's ActivationTensors), which a
//     backward.go mirroring the forward will read;
//   - Attention.Forward saves the softmax probabilities for
//     kernels.AttentionBackward; the cached path (generation) does not.
//
// The backward signatures follow kernels: Linear.Backward(dx, dy, x
// []float32, N int) accumulates dx += dy·W (nil dx skipped) and, for
// trainable layers only (LoRA wrappers), their weight gradients; norms and
// attention pass gradients to their inputs only (base weights are frozen).
package nn
