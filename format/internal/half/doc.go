// Package half converts IEEE 754 binary16 (f16) and bfloat16 (bf16) values to
// and from float32 for the format readers and writers.
//
// It is a stop-gap: the same codecs belong in tensor/, which the format
// packages may import once it has them; until then this package keeps
// format/ free of a dependency on work in progress.
package half
