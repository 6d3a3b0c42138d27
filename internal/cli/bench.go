package cli

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	var cpuProfile string
	var stopProfile func()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure loft's speed (GEMM, generation, training)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown benchmark %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		// --cpuprofile writes a pprof CPU profile of the whole benchmark,
		// for `go tool pprof`.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpuprofile %s: %w", cpuProfile, err)
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			return nil
		},
		PersistentPostRunE: func(cmd *cobra.Command, args []string) error {
			if stopProfile != nil {
				stopProfile()
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the benchmark to this file (go tool pprof)")
	cmd.AddCommand(newBenchGemmCmd())
	cmd.AddCommand(newBenchGenerateCmd())
	cmd.AddCommand(newBenchTrainCmd())
	return cmd
}
