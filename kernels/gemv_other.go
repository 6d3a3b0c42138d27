//go:build !amd64 || purego

package kernels

// gemvRowsFast is gemvRowsGo where there is no assembly.
func gemvRowsFast(y, w, x []float32, ldw int) { gemvRowsGo(y, w, x, ldw) }

// fmaPeakLoop reports that there is no FMA loop to measure the peak with.
func fmaPeakLoop() (func(n int), int) { return nil, 0 }

// streamSum returns the sum of x.
func streamSum(x []float32) float32 { return vSum(x) }

// axpyRowsFast is axpyRowsGo where there is no assembly.
func axpyRowsFast(y, p, v []float32, ldv int) { axpyRowsGo(y, p, v, ldv) }

// attnScoresAsm and attnValuesAsm report that there are no AVX-512
// attention kernels.
func attnScoresAsm(int, []float32, int, []float32, []float32, []float32, int, int) bool {
	return false
}
func attnValuesAsm(int, []float32, int, []float32, int, []float32, int, int) bool {
	return false
}
