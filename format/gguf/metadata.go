package gguf

import (
	"fmt"
	"math"
	"slices"
)

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string { return slices.Clone(f.keys) }

// Has reports whether the file has the metadata key.
func (f *File) Has(key string) bool {
	_, ok := f.meta[key]
	return ok
}

// Value returns the metadata value of key.
func (f *File) Value(key string) (Value, bool) {
	v, ok := f.meta[key]
	return v, ok
}

// lookup returns the value of key or an error wrapping ErrMissingKey.
func (f *File) lookup(key string) (Value, error) {
	v, ok := f.meta[key]
	if !ok {
		return Value{}, fmt.Errorf("gguf %s: %w: %q", f.path, ErrMissingKey, key)
	}
	return v, nil
}

func (f *File) typeErr(key string, v Value, want string) error {
	t := v.typ.String()
	if v.typ == Array {
		t = "array of " + v.elem.String()
	}
	return fmt.Errorf("gguf %s: metadata key %q is %s, want %s", f.path, key, t, want)
}

// String returns the string value of key.
func (f *File) String(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.x.(string)
	if !ok {
		return "", f.typeErr(key, v, "string")
	}
	return s, nil
}

// Uint returns the value of key, which must be a non-negative integer of any
// width.
func (f *File) Uint(key string) (uint64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	if u, ok := v.x.(uint64); ok {
		return u, nil
	}
	i, ok := v.asInt64()
	if !ok || i < 0 {
		return 0, f.typeErr(key, v, "a non-negative integer")
	}
	return uint64(i), nil
}

// Int returns the value of key, which must be an integer of any width that
// fits an int64.
func (f *File) Int(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	i, ok := v.asInt64()
	if !ok {
		return 0, f.typeErr(key, v, "an integer")
	}
	return i, nil
}

// Float returns the value of key, a float32, float64 or integer.
func (f *File) Float(key string) (float64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.x.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	case uint64:
		return float64(x), nil
	}
	if i, ok := v.asInt64(); ok {
		return float64(i), nil
	}
	return 0, f.typeErr(key, v, "a number")
}

// Bool returns the bool value of key.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.x.(bool)
	if !ok {
		return false, f.typeErr(key, v, "bool")
	}
	return b, nil
}

// StringArray returns the array of strings of key (e.g. tokenizer.ggml.tokens).
// The slice is shared: do not modify it.
func (f *File) StringArray(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	xs, ok := v.x.([]string)
	if !ok {
		return nil, f.typeErr(key, v, "array of string")
	}
	return xs, nil
}

// Float32Array returns the array of floats of key (e.g. tokenizer.ggml.scores)
// as a new []float32; float64 elements are narrowed.
func (f *File) Float32Array(key string) ([]float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	switch xs := v.x.(type) {
	case []float32:
		return slices.Clone(xs), nil
	case []float64:
		out := make([]float32, len(xs))
		for i, x := range xs {
			out[i] = float32(x)
		}
		return out, nil
	}
	return nil, f.typeErr(key, v, "array of float32")
}

// Int32Array returns the array of integers of key (e.g.
// tokenizer.ggml.token_type) as a new []int32; elements of any integer type
// are accepted if they fit.
func (f *File) Int32Array(key string) ([]int32, error) {
	xs, err := f.intArray(key, math.MinInt32, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(xs))
	for i, x := range xs {
		out[i] = int32(x)
	}
	return out, nil
}

// Int64Array returns the array of integers of key as a new []int64;
// elements of any integer type are accepted if they fit.
func (f *File) Int64Array(key string) ([]int64, error) {
	return f.intArray(key, math.MinInt64, math.MaxInt64)
}

func (f *File) intArray(key string, lo, hi int64) ([]int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	if v.typ != Array || v.elem.fixedSize() <= 0 || v.elem == Bool || v.elem == Float32 || v.elem == Float64 {
		return nil, f.typeErr(key, v, "array of integers")
	}
	n := v.Len()
	out := make([]int64, n)
	for i := 0; i < n; i++ {
		var x int64
		ok := true
		switch xs := v.x.(type) {
		case []uint8:
			x = int64(xs[i])
		case []int8:
			x = int64(xs[i])
		case []uint16:
			x = int64(xs[i])
		case []int16:
			x = int64(xs[i])
		case []uint32:
			x = int64(xs[i])
		case []int32:
			x = int64(xs[i])
		case []int64:
			x = xs[i]
		case []uint64:
			ok = xs[i] <= math.MaxInt64
			x = int64(xs[i])
		}
		if !ok || x < lo || x > hi {
			return nil, fmt.Errorf("gguf %s: metadata key %q: element %d out of range [%d, %d]", f.path, key, i, lo, hi)
		}
		out[i] = x
	}
	return out, nil
}
