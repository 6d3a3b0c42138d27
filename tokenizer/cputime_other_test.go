//go:build !linux

package tokenizer

import "time"

// threadCPU is unavailable here; benchmarks then report wall-clock rates only.
func threadCPU() time.Duration { return 0 }
