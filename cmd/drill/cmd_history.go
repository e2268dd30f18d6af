package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/human"
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
			f := agent.HistoryFilter{Service: service, Limit: limit}
			if len(a) == 1 {
				f.Drill = a[0]
			}
			return e.onHost(cmd, func(ctx context.Context, _ *config.Config, h drillHost) error {
				return e.printHistory(ctx, h, f, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON evidence record per line, newest first")
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "show at most this many records (0: all)")
	cmd.Flags().StringVar(&service, "service", "", "only the records of service S's drills")
	return cmd
}

// historyGCPercent is the GC target while history prints (GOGC, when
// higher, stays).
const historyGCPercent = 400

// printHistory prints the records f selects, newest first: as a table, or
// one JSON record a line. The JSON of a record is json.Marshal's of it
// escaped: the host's copy of it when it has one (the same bytes), else
// encoded here.
func (e *env) printHistory(ctx context.Context, h drillHost, f agent.HistoryFilter, asJSON bool) error {
	// The records are garbage as soon as printed, and few are live at a
	// time (a page): collecting less often saves a quarter of the CPU of
	// a long history for a few MiB more.
	if old := debug.SetGCPercent(historyGCPercent); old < 0 || old > historyGCPercent {
		debug.SetGCPercent(old)
	} else {
		defer debug.SetGCPercent(old)
	}
	if asJSON {
		w := bufio.NewWriterSize(e.stdout, 64<<10)
		err := h.History(ctx, f, func(r *record.Record, js []byte) error {
			if js != nil {
				_, _ = w.Write(js) // a failed write fails the next, checked
				return w.WriteByte('\n')
			}
			// Records from before escaping may hold raw text from a backup.
			writeJSON(w, r.Escaped())
			return nil
		})
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tFINISHED\tDRILL\tVERDICT\tRESTORE POINT\tFILES\tDURATION\tREASON")
	if err := h.History(ctx, f, func(r *record.Record, _ []byte) error {
		printHistoryRow(tw, r.Escaped())
		return nil
	}); err != nil {
		return err
	}
	return tw.Flush()
}

// printHistoryRow prints r as a row of drill history's table.
func printHistoryRow(w io.Writer, r *record.Record) {
	reason := ""
	if len(r.Reasons) > 0 {
		reason = r.Reasons[0]
		if len(r.Reasons) > 1 {
			reason += fmt.Sprintf(" (+%d more)", len(r.Reasons)-1)
		}
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.LogIndex, r.Finished.Local().Format(time.DateTime), r.Drill,
		r.Verdict, short(r.RestorePoint.ID, 40), r.Files, human.Duration(r.Finished.Sub(r.Started)), short(reason, 80))
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
