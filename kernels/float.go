package kernels

// float is the element type of the generic reference kernels: the exported
// float32 ops run them as float32, and the tests run the very same code in
// float64 for central finite differences with tight tolerances.
type float interface{ ~float32 | ~float64 }
