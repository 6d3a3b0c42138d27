package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
)

// Version is loft's version; release builds set it with -ldflags "-X".
var Version = "0.1.0-dev"

// Exit codes returned by Run.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed
	ExitUsage = 2 // unknown command or flag, bad flag value
	// ExitInterrupted is returned when a signal cancelled the run (128 +
	// SIGINT, as shells report it), after any checkpoint was saved.
	ExitInterrupted = 130
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

// Interrupter hands Ctrl-C to a command that takes it over: chat, while
// it writes a reply, ends the reply and goes back to its prompt, as
// llama.cpp's and Ollama's interactive modes do. The program's signal
// handler calls Interrupt, and cancels the run when nobody took Ctrl-C;
// WithInterrupter gives it to the commands. The zero value is ready.
type Interrupter struct {
	f atomic.Pointer[func()]
}

// Interrupt runs what a command set for Ctrl-C, once, and reports whether
// there was something: a second Ctrl-C before the command takes it again
// finds nothing, so that the caller cancels the run (a reply stuck in a
// long prefill, which does not look at its context, can still be left).
func (it *Interrupter) Interrupt() bool {
	if p := it.f.Swap(nil); p != nil {
		(*p)()
		return true
	}
	return false
}

// take makes the next Interrupt call f, until release; it is a no-op on a
// nil Interrupter (a caller of Run without one).
func (it *Interrupter) take(f func()) (release func()) {
	if it == nil {
		return func() {}
	}
	p := &f
	it.f.Store(p)
	return func() { it.f.CompareAndSwap(p, nil) }
}

type interrupterKey struct{}

// WithInterrupter returns ctx carrying it, for Run's commands.
func WithInterrupter(ctx context.Context, it *Interrupter) context.Context {
	return context.WithValue(ctx, interrupterKey{}, it)
}

// interrupterOf returns the Interrupter ctx carries, or nil.
func interrupterOf(ctx context.Context) *Interrupter {
	it, _ := ctx.Value(interrupterKey{}).(*Interrupter)
	return it
}

// Run executes loft with args (without the program name), writing results to
// stdout and diagnostics to stderr, and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "loft: %v\n", err)
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	var ue usageError
	if errors.As(err, &ue) {
		if cmd == nil || cmd.Name() == "help" {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return ExitError
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "loft",
		Short: "loft fine-tunes large language models with LoRA",
		Long: `loft (LOw-rank Fine-Tuning) trains LoRA adapters for large language models
on the hardware you have, a plain CPU included, runs them and merges them into
their base model.`,
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
	// loft --version prints what loft version does.
	info, _ := debug.ReadBuildInfo()
	root.Version = versionLine(info)
	root.SetVersionTemplate("{{.Version}}\n")
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
	root.SetHelpCommand(newHelpCmd())
	// cobra adds its completion command at Execute; add it now so that
	// usageArgs below covers it too.
	root.InitDefaultCompletionCmd()
	usageArgs(root)
	return root
}

// newHelpCmd replaces cobra's help command, which prints the root help and
// exits 0 for an unknown topic.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("unknown help topic %q", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	}
}

// usageArgs makes every bad positional argument below c a usage error
// (exit 2): argument checks from cobra (those of the completion command)
// return plain errors, and cobra never checks the arguments of a command
// that has subcommands but nothing to run, so "loft completion nope" would
// print help and succeed.
func usageArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ue usageError
			if err != nil && !errors.As(err, &ue) {
				err = usageError{err}
			}
			return err
		}
	}
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		// "loft: bench gemm takes ...": Run already prints "loft: ".
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		if cmd.Flags().Lookup("model") != nil {
			return usageErrorf("%s takes no arguments, got %q (give the model with --model)", name, args[0])
		}
		return usageErrorf("%s takes no arguments, got %q", name, args[0])
	}
	return nil
}
