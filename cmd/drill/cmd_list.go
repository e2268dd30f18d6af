package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/schedule"
)

func newListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List drills with their schedule, next run and last verdict",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			last := map[string]*evidence.Record{}
			if store, err := openStore(cfg, true); err == nil {
				_ = store.Entries(func(en *evidence.Entry) error {
					if _, ok := last[en.Record.Drill]; !ok {
						last[en.Record.Drill] = en.Record
					}
					return nil
				}, true)
				store.Close()
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DRILL\tSERVICE\tBACKEND\tSCHEDULE\tNEXT RUN\tLAST VERDICT\tLAST RUN")
			now := time.Now()
			for _, n := range cfg.DrillNames() {
				d := cfg.Drills[n]
				sched, next := "manual", "-"
				if d.Schedule != "" {
					sched = d.Schedule
					if s, err := schedule.Parse(d.Schedule); err == nil {
						next = s.Next(now).Local().Format(time.DateTime)
					}
				}
				verdict, when := "never run", "-"
				if r := last[n]; r != nil {
					verdict, when = r.Verdict, r.Finished.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, d.Service, d.Backend, sched, next, verdict, when)
			}
			return tw.Flush()
		},
	}
}
