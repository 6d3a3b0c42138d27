// Package optim holds the optimiser (AdamW with torch's semantics, on top of
// kernels.AdamWStep), learning-rate schedules as pure functions of the step,
// and gradient clipping over a set of named parameters.
package optim
