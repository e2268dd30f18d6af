package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/textsafe"
)

func newListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List drills with their schedule, next run and last verdict",
		Long: `List the drills with their schedule, next run (with its jitter) and last
verdict: from the agent when one listens on the socket, otherwise from the
config and the evidence store.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return e.onHost(cmd, e.listDrills) },
	}
}

// listDrills prints the table of the drills of cfg, as h has them.
func (e *env) listDrills(ctx context.Context, _ *config.Config, h drillHost) error {
	rows, err := h.Drills(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DRILL\tSERVICE\tBACKEND\tSCHEDULE\tNEXT RUN\tLAST VERDICT\tLAST RUN")
	for _, r := range rows {
		sched, next := "manual", "-"
		if r.Schedule != "" {
			sched = r.Schedule
		}
		if !r.NextRun.IsZero() {
			next = r.NextRun.Local().Format(time.DateTime)
		}
		verdict, when := "never run", "-"
		if r.Last != nil {
			verdict, when = textsafe.Escape(string(r.Last.Verdict)), r.Last.Finished.Local().Format(time.DateTime)
		}
		if r.State != "" {
			verdict = r.State + " (last: " + verdict + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", textsafe.Escape(r.Name), textsafe.Escape(r.Service), textsafe.Escape(r.Backend),
			textsafe.Escape(sched), next, verdict, when)
	}
	return tw.Flush()
}
