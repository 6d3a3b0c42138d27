package tensor

import (
	"strconv"
	"strings"
)

// Shape is a tensor's dimensions, outermost first (row-major).
type Shape []int

// NumElements returns the product of the dimensions: 1 for a scalar (empty
// shape), 0 when any dimension is 0. It returns -1 when a dimension is
// negative or the product overflows an int, so a corrupt header never turns
// into a huge allocation.
func (s Shape) NumElements() int {
	n := 1
	for _, d := range s {
		if d < 0 {
			return -1
		}
		if d == 0 {
			return 0
		}
		if n > int(^uint(0)>>1)/d {
			return -1
		}
		n *= d
	}
	return n
}

// String formats s like the shape comments in loft: "(2, 3)", "()" for a
// scalar.
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(')')
	return b.String()
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}
