//go:build amd64 && !purego

package kernels

import "testing"

// TestAttentionWithoutAVX512 runs the decoding attention tests again on
// the head-by-head AVX2 path that CPUs without AVX-512 take.
func TestAttentionWithoutAVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("this CPU has no AVX-512: the other tests ran the AVX2 path")
	}
	hasAVX512 = false
	defer func() { hasAVX512 = true }()
	t.Run("KVLayout", TestAttentionKVLayout)
	t.Run("GroupKernels", TestAttnGroupKernels)
}
