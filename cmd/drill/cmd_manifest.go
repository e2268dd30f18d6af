package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/internal/manifest"
)

func newManifestCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "manifest DIR",
		Short: "Print a reference manifest of DIR in sha256sum format",
		Long: `Print the SHA-256 of every regular file under DIR in exactly the format of
sha256sum, with names relative to DIR, so that "cd DIR && sha256sum -c" accepts it
and a drill can use it as its reference (checks: {manifest: FILE}). Symlinks are
never followed.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			m, err := manifest.HashTree(ctxOf(cmd), a[0], manifest.Options{})
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(e.stdout, 1<<16)
			if _, err := m.WriteTo(w); err != nil {
				return fmt.Errorf("write manifest: %w", err)
			}
			return w.Flush()
		},
	}
}
