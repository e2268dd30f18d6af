package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/filesystem"
	"github.com/drillhq/drill/plugins/mysql"
	"github.com/drillhq/drill/plugins/postgres"
	"github.com/drillhq/drill/plugins/restic"
)

// builtins are the backends compiled into drill. They still run out of
// process: the host re-executes its own binary as `drill plugin serve NAME`.
var builtins = map[string]func() plugins.Backend{
	"filesystem": filesystem.New,
	"mysql":      mysql.New,
	"postgres":   postgres.New,
	"restic":     restic.New,
}

func builtinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func newPluginCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Hidden: true, Short: "Serve a built-in backend plugin (started by drill itself)"}
	cmd.AddCommand(&cobra.Command{
		Use:  "serve NAME",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, a []string) error {
			mk, ok := builtins[a[0]]
			if !ok {
				return usageError{fmt.Errorf("no built-in backend %q", a[0])}
			}
			plugins.Serve(mk())
			return nil
		},
	})
	return cmd
}
