package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/plugins"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print drill's version",
		Args:  args(cobra.NoArgs),
		Run: func(*cobra.Command, []string) {
			commit := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			fmt.Fprintf(e.stdout, "drill %s (commit %s, %s, plugin protocol %d)\n", version, commit, runtime.Version(), plugins.ProtocolVersion)
		},
	}
}
