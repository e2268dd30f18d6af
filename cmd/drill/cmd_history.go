package main

import (
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

func newHistoryCmd(e *env) *cobra.Command {
	var asJSON bool
	var limit int
	var service string
	cmd := &cobra.Command{
		Use:   "history [NAME] [--service S]",
		Short: "List evidence records, newest first",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "INDEX\tFINISHED\tDRILL\tVERDICT\tRESTORE POINT\tFILES\tDURATION\tREASON")
			}
			show := func(r *record.Record) error {
				// Records from before escaping may hold raw text from a backup.
				r = r.Escaped()
				if asJSON {
					writeJSON(e.stdout, r)
					return nil
				}
				reason := ""
				if len(r.Reasons) > 0 {
					reason = r.Reasons[0]
					if len(r.Reasons) > 1 {
						reason += fmt.Sprintf(" (+%d more)", len(r.Reasons)-1)
					}
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.LogIndex, r.Finished.Local().Format(time.DateTime), r.Drill,
					r.Verdict, short(r.RestorePoint.ID, 40), r.Files, human.Duration(r.Finished.Sub(r.Started)), short(reason, 80))
				return nil
			}
			drill := ""
			if len(a) == 1 {
				drill = a[0]
			}
			c, _, err := dialAgent(ctxOf(cmd), cfg)
			if err != nil {
				return err
			}
			if c != nil {
				if err := c.History(ctxOf(cmd), agent.HistoryFilter{Drill: drill, Service: service, Limit: limit}, show); err != nil {
					return err
				}
				return tw.Flush()
			}
			store, err := openStore(cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			n := 0
			errStop := fmt.Errorf("stop")
			err = store.Entries(func(en *evidence.Entry) error {
				if drill != "" && en.Record.Drill != drill || service != "" && en.Record.Service != service {
					return nil
				}
				if limit > 0 && n >= limit {
					return errStop
				}
				n++
				return show(en.Record)
			}, true)
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON evidence record per line, newest first")
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "show at most this many records (0: all)")
	cmd.Flags().StringVar(&service, "service", "", "only the records of service S's drills")
	return cmd
}

// short shortens s to n runes for tables, keeping its end (file names).
func short(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
