// Package tensor holds the bf16/f16 <-> f32 codecs that model files need,
// and Make, Weights and Mapped, which allocate the large float32 buffers
// decoding streams (model weights; the bandwidth probe's buffer) on
// transparent huge pages where Linux allows. It does no maths: that
// lives in kernels. Element types and shapes of
// stored tensors belong to their formats (format/safetensors.DType,
// format/gguf's tensor types); loft's own tensors are float32 slices with
// shape comments.
package tensor
