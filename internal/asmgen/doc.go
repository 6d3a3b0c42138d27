// Package asmgen is a separate module holding the avo programs that generate
// loft's Go assembly (kernels/*_amd64.s). Each generator lives in its own
// folder with a main package; run them with `go generate ./kernels/...`.
// Keeping avo in its own module keeps it out of loft's build.
package asmgen
