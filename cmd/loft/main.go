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
	ctx, cancel := context.WithCancel(context.Background())
	var it cli.Interrupter
	ctx = cli.WithInterrupter(ctx, &it)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go handleSignals(sigs, it.Interrupt, cancel, func() { signal.Stop(sigs) })
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// handleSignals acts on the signals that arrive on sigs. A command may take
// Ctrl-C over (interrupt reports that it did): chat ends the reply it is
// writing and goes back to its prompt, and a second Ctrl-C in the same
// reply finds nothing taken. Otherwise the signal cancels the run, so that
// training can save a checkpoint, and restore gives the signals their
// default handlers back, so that another one kills a save that hangs.
func handleSignals(sigs <-chan os.Signal, interrupt func() bool, cancel, restore func()) {
	for s := range sigs {
		if s == os.Interrupt && interrupt() {
			continue
		}
		cancel()
		restore()
		return
	}
}
