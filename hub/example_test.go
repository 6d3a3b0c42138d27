package hub_test

import (
	"context"
	"fmt"
	"os"

	"github.com/loftml/loft/hub"
)

// Resolve a --model flag: a folder, a .gguf file, or a Hub repo id whose
// files are downloaded into ~/.cache/huggingface/hub with progress on stderr.
func ExampleResolve() {
	dir, err := hub.Resolve(context.Background(), "Qwen/Qwen2.5-0.5B-Instruct", hub.Options{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(dir) // .../models--Qwen--Qwen2.5-0.5B-Instruct/snapshots/<commit>
}
