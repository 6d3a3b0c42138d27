// Package gguf reads and writes GGUF files (versions 2 and 3), the model
// format of ggml and llama.cpp, and dequantises their tensors to float32.
//
// A file is a header (magic "GGUF", version, tensor and key-value counts),
// typed metadata key-values, tensor infos (name, dims, ggml type, offset)
// and a data section starting at the next multiple of general.alignment
// (default 32). Dims are in ggml's ne order: Dims[0] varies fastest, so a
// PyTorch weight of shape (out, in) has Dims [in, out].
//
// Every count, size and offset is checked against the file length before it
// is used, so a lying header yields an error naming the file and the key or
// tensor, never a panic or a huge allocation. Files are memory-mapped.
//
// Dequantisers follow the block layouts of ggml (ggml-common.h, the
// dequantize_row_* functions of ggml-quants.c): F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K. The package knows no models.
package gguf
