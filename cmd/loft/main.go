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
	go func() {
		// The first Ctrl-C cancels ctx so that training can save a
		// checkpoint; restoring the default handlers lets a second one
		// kill a save that hangs.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
