package gguf

import "fmt"

// Type is a ggml tensor element type, numbered as in ggml's enum ggml_type.
type Type uint32

// ggml tensor types. Types 4 and 5 were removed from ggml; the IQ types are
// known by number only, for error messages.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	I8   Type = 24
	I16  Type = 25
	I32  Type = 26
	I64  Type = 27
	F64  Type = 28
	BF16 Type = 30
)

// QK_K is the super-block size of the K-quants.
const QK_K = 256

// typeInfo is a type's name, elements per block and bytes per block.
type typeInfo struct {
	name      string
	blockSize int
	typeSize  int
}

// typeInfos holds the block geometry of ggml-common.h for the types whose
// layout this package knows (it can parse files holding any of them, and
// dequantise those listed in the package doc).
var typeInfos = map[Type]typeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	Q4_0: {"Q4_0", 32, 2 + 16},
	Q4_1: {"Q4_1", 32, 2 + 2 + 16},
	Q5_0: {"Q5_0", 32, 2 + 4 + 16},
	Q5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0: {"Q8_0", 32, 2 + 32},
	Q8_1: {"Q8_1", 32, 4 + 4 + 32},
	Q2_K: {"Q2_K", QK_K, QK_K/16 + QK_K/4 + 2 + 2},
	Q3_K: {"Q3_K", QK_K, QK_K/8 + QK_K/4 + 12 + 2},
	Q4_K: {"Q4_K", QK_K, 2 + 2 + 12 + QK_K/2},
	Q5_K: {"Q5_K", QK_K, 2 + 2 + 12 + QK_K/8 + QK_K/2},
	Q6_K: {"Q6_K", QK_K, QK_K/2 + QK_K/4 + QK_K/16 + 2},
	Q8_K: {"Q8_K", QK_K, 4 + QK_K + QK_K/16*2},
	I8:   {"I8", 1, 1},
	I16:  {"I16", 1, 2},
	I32:  {"I32", 1, 4},
	I64:  {"I64", 1, 8},
	F64:  {"F64", 1, 8},
	BF16: {"BF16", 1, 2},
}

// otherNames names ggml types whose layout this package does not know.
var otherNames = map[Type]string{
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
	21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0",
	39: "MXFP4",
}

// String returns ggml's name for t ("Q4_K"), or "type(N)".
func (t Type) String() string {
	if ti, ok := typeInfos[t]; ok {
		return ti.name
	}
	if n, ok := otherNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the elements per block of t (1 for plain types), or 0
// if the layout of t is unknown.
func (t Type) BlockSize() int { return typeInfos[t].blockSize }

// TypeSize returns the bytes per block of t, or 0 if unknown.
func (t Type) TypeSize() int { return typeInfos[t].typeSize }

// RowSize returns the bytes of n elements of t; n must be a multiple of the
// block size.
func (t Type) RowSize(n int) int {
	ti := typeInfos[t]
	if ti.blockSize == 0 {
		return 0
	}
	return n / ti.blockSize * ti.typeSize
}
