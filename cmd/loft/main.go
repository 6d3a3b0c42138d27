// Command loft is a LoRA fine-tuning system for large language models.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/loftml/loft/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
