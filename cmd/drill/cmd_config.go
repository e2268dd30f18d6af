package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/drills"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the config file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the config, including every drill's source against its backend, and exit",
		Long: `Validate the config file and every drill's source against its backend (each
backend used is started once to describe and validate its sources; no backup is
read). Every problem is reported with file, line and column.

Exit codes: 0 valid; 2 invalid.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			l, err := e.launcher(cfg)
			if err != nil {
				return withCode(exitError, err)
			}
			if errs := drills.Validate(ctxOf(cmd), cfg, l); len(errs) > 0 {
				return errs
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d services, %d drills)\n", cfg.Path, len(cfg.Services), len(cfg.Drills))
			return nil
		},
	})
	return cmd
}
