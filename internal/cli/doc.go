// Package cli holds loft's command-line interface: one file per subcommand,
// all reached through Run, which returns an exit code and is tested directly.
package cli
