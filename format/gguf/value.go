package gguf

import (
	"fmt"
	"strings"
)

// ValueType is the type of a metadata value, numbered as GGUF's gguf_type.
type ValueType uint32

// GGUF metadata value types.
const (
	Uint8   ValueType = 0
	Int8    ValueType = 1
	Uint16  ValueType = 2
	Int16   ValueType = 3
	Uint32  ValueType = 4
	Int32   ValueType = 5
	Float32 ValueType = 6
	Bool    ValueType = 7
	String  ValueType = 8
	Array   ValueType = 9
	Uint64  ValueType = 10
	Int64   ValueType = 11
	Float64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32",
	"float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the GGUF spelling of v ("uint32").
func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("value_type(%d)", uint32(v))
}

// fixedSize returns the encoded bytes of a scalar of type v, 0 for strings
// and arrays, -1 for an unknown type.
func (v ValueType) fixedSize() int {
	switch v {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	case String, Array:
		return 0
	}
	return -1
}

// minSize returns the fewest bytes one encoded value of type v can take
// (8 for a string's length, 12 for an array's type and length).
func (v ValueType) minSize() int {
	switch v {
	case String:
		return 8
	case Array:
		return 12
	}
	return v.fixedSize()
}

// Value is one metadata value: a scalar or an array of one element type.
// Scalars hold the Go type of their ValueType (uint8, ..., float64, bool,
// string); arrays hold a slice of it, or []Value for arrays of arrays.
type Value struct {
	typ  ValueType
	elem ValueType // element type of an array
	x    any
}

// Scalar is the set of Go types of scalar metadata values.
type Scalar interface {
	uint8 | int8 | uint16 | int16 | uint32 | int32 | float32 | bool | string | uint64 | int64 | float64
}

// ValueOf returns the metadata value holding x, typed by x's Go type
// (uint32 -> Uint32, string -> String, ...).
func ValueOf[T Scalar](x T) Value {
	return Value{typ: typeOf(any(x)), x: x}
}

// ArrayOf returns the metadata array holding xs (the slice is kept, not
// copied).
func ArrayOf[T Scalar](xs []T) Value {
	var zero T
	return Value{typ: Array, elem: typeOf(any(zero)), x: xs}
}

// ArrayOfArrays returns a metadata array whose elements are arrays.
func ArrayOfArrays(xs []Value) Value {
	return Value{typ: Array, elem: Array, x: xs}
}

func typeOf(x any) ValueType {
	switch x.(type) {
	case uint8:
		return Uint8
	case int8:
		return Int8
	case uint16:
		return Uint16
	case int16:
		return Int16
	case uint32:
		return Uint32
	case int32:
		return Int32
	case float32:
		return Float32
	case bool:
		return Bool
	case string:
		return String
	case uint64:
		return Uint64
	case int64:
		return Int64
	case float64:
		return Float64
	}
	panic(fmt.Sprintf("gguf: no value type for %T", x))
}

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// ElemType returns an array's element type.
func (v Value) ElemType() ValueType { return v.elem }

// Interface returns the Go value: a scalar, a slice for an array of
// scalars, or []Value for an array of arrays.
func (v Value) Interface() any { return v.x }

// Len returns the number of elements of an array, 0 for a scalar.
func (v Value) Len() int {
	if v.typ != Array {
		return 0
	}
	switch xs := v.x.(type) {
	case []uint8:
		return len(xs)
	case []int8:
		return len(xs)
	case []uint16:
		return len(xs)
	case []int16:
		return len(xs)
	case []uint32:
		return len(xs)
	case []int32:
		return len(xs)
	case []float32:
		return len(xs)
	case []bool:
		return len(xs)
	case []string:
		return len(xs)
	case []uint64:
		return len(xs)
	case []int64:
		return len(xs)
	case []float64:
		return len(xs)
	case []Value:
		return len(xs)
	}
	return 0
}

// String formats the value for logs; long arrays are abbreviated.
func (v Value) String() string {
	if v.typ != Array {
		if s, ok := v.x.(string); ok {
			if len(s) > 60 {
				s = s[:60] + "..."
			}
			return fmt.Sprintf("%q", s)
		}
		return fmt.Sprint(v.x)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s x %d]", v.elem, v.Len())
	return b.String()
}

// asInt64 converts an integer scalar to int64; ok is false for non-integers
// and for uint64 values above MaxInt64.
func (v Value) asInt64() (int64, bool) {
	switch x := v.x.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x <= 1<<63-1 {
			return int64(x), true
		}
	}
	return 0, false
}
