// Package kernels holds loft's maths on raw float32 slices, llm.c style:
// each op is a Forward/Backward pair in one file, with a slow, obvious
// pure-Go reference beside any SIMD fast path, and tests against both
// the reference and central finite differences.
//
// Legend for shape comments:
//
//	B  batch size           T  time (sequence length)
//	C  channels (hidden)    V  vocabulary size
//	NH query heads          NKV key/value heads (grouped-query attention)
//	HS head size            OC output channels
//	M, K, N  matrix sizes: C (M, N) = A (M, K) · B (K, N)
//
// Gradients accumulate with +=; a nil gradient slice means "frozen, skip".
// Matrices are row-major.
package kernels
