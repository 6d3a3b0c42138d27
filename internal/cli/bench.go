package cli

import "github.com/spf13/cobra"

func newBenchCmd() *cobra.Command {
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
	}
	cmd.AddCommand(newBenchGemmCmd())
	cmd.AddCommand(newBenchGenerateCmd())
	cmd.AddCommand(newBenchTrainCmd())
	return cmd
}
