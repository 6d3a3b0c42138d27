package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print loft's version",
		Long: `version prints loft's version, the commit it was built from when the build
recorded one (go build in a git checkout does, unless -buildvcs=false; go run
does not), the platform and the Go version.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, _ := debug.ReadBuildInfo()
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine(info))
			return err
		},
	}
}

// versionLine formats "loft VERSION [(COMMIT[, modified])] OS/ARCH GO" from
// the build's settings; info may be nil.
func versionLine(info *debug.BuildInfo) string {
	rev, modified := "", false
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	build := ""
	if rev != "" {
		build = " (" + rev[:min(len(rev), 12)]
		if modified {
			build += ", modified"
		}
		build += ")"
	}
	return fmt.Sprintf("loft %s%s %s/%s %s", Version, build, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
