package tensor

import "fmt"

// DType is the element type of a stored tensor. The names are those used by
// safetensors headers ("F32", "BF16", ...).
type DType uint8

// The element types loft reads and writes. Invalid is the zero value, so an
// unset DType is never mistaken for F32.
const (
	Invalid DType = iota
	F32
	F16
	BF16
	F64
	I64
	I32
	I16
	I8
	U8
	Bool
)

// dtypeInfo holds the safetensors name and size in bytes of each DType.
var dtypeInfo = [...]struct {
	name string
	size int
}{
	Invalid: {"INVALID", 0},
	F32:     {"F32", 4},
	F16:     {"F16", 2},
	BF16:    {"BF16", 2},
	F64:     {"F64", 8},
	I64:     {"I64", 8},
	I32:     {"I32", 4},
	I16:     {"I16", 2},
	I8:      {"I8", 1},
	U8:      {"U8", 1},
	Bool:    {"BOOL", 1},
}

// String returns the safetensors name of d, e.g. "BF16".
func (d DType) String() string {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes, 0 for an invalid DType.
func (d DType) Size() int {
	if int(d) < len(dtypeInfo) {
		return dtypeInfo[d].size
	}
	return 0
}

// ParseDType returns the DType with the safetensors name s ("F32", "F16",
// "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL").
func ParseDType(s string) (DType, error) {
	for d := F32; int(d) < len(dtypeInfo); d++ {
		if dtypeInfo[d].name == s {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("tensor: unknown dtype %q", s)
}
