package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			c, _, err := dialAgent(ctxOf(cmd), cfg)
			if err != nil {
				return err
			}
			var rows []agent.DrillStatus
			if c != nil {
				if rows, err = c.Drills(ctxOf(cmd)); err != nil {
					return err
				}
			} else {
				last := map[string]*record.Record{}
				if store, err := openStore(cfg, true); err == nil {
					_ = store.Entries(func(en *evidence.Entry) error {
						if _, ok := last[en.Record.Drill]; !ok {
							last[en.Record.Drill] = en.Record
						}
						return nil
					}, true)
					_ = store.Close()
				}
				now, host := time.Now(), drills.Hostname()
				for _, n := range cfg.DrillNames() {
					d := cfg.Drills[n]
					rows = append(rows, agent.DrillStatus{Name: n, Service: d.Service, Backend: d.Backend,
						Schedule: d.Schedule, NextRun: agent.NextRun(d, host, now), Last: last[n]})
				}
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
		},
	}
}
