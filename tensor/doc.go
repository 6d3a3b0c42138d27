// Package tensor holds shapes, dtypes and the bf16/f16 <-> f32 codecs that
// model files need. It does no maths: that lives in kernels.
package tensor
