package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is loft's version; release builds set it with -ldflags "-X".
var Version = "0.1.0-dev"

// Exit codes returned by Run.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed
	ExitUsage = 2 // unknown command or flag, bad flag value
)

// usageError marks errors in how loft was called, as opposed to errors in
// the work it was asked to do; Run maps them to ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns an error that makes Run exit with ExitUsage.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Run executes loft with args (without the program name), writing results to
// stdout and diagnostics to stderr, and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "loft: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'loft --help' for usage.")
		return ExitUsage
	}
	return ExitError
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "loft",
		Short: "loft fine-tunes large language models with LoRA",
		Long: `loft (LOw-rank Fine-Tuning) trains LoRA adapters for large language models
on the hardware you have, a plain CPU included, and runs, merges and exports them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// With subcommands, cobra ignores unknown words after "loft" unless
		// Args rejects them.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{err}
	})
	root.AddCommand(newVersionCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newTokenizeCmd())
	root.AddCommand(newInfoCmd())
	root.AddCommand(newGenerateCmd())
	root.AddCommand(newChatCmd())
	root.AddCommand(newMergeCmd())
	root.AddCommand(newTrainCmd())
	return root
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
