package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
)

func newRunCmd(e *env) *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "run [NAME...] [--all]",
		Short: "Run drills now and record their evidence",
		Long: `Run the named drills (or every drill with --all) now, one after the other, and
append one signed evidence record per drill.

Exit codes: 0 every drill passed; 1 at least one failed; 3 none failed but at
least one errored; 2 usage or configuration error, nothing ran.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if all && len(names) > 0 {
				return usageError{errors.New("name the drills to run, or give --all (not both)")}
			}
			// The config is read first, so that a bare drill run on a
			// new host says where it looked for one and how to make one,
			// and otherwise which drills there are to name.
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if names, err = drillsToRun(cfg, names, all); err != nil {
				return err
			}
			h, err := hostFor(ctxOf(cmd), e, cfg)
			if err != nil {
				return err
			}
			defer h.Close()
			return e.runDrills(ctxOf(cmd), h, names, asJSON)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "run every drill in the config")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON evidence record per drill per line")
	return cmd
}

// drillsToRun checks the drills named to run against cfg, or with all
// names every drill of cfg.
func drillsToRun(cfg *config.Config, names []string, all bool) ([]string, error) {
	if all {
		names = cfg.DrillNames()
	}
	if len(names) == 0 {
		defined := cfg.DrillNames()
		if len(defined) == 0 {
			return nil, usageError{fmt.Errorf("%s defines no drills; drill init -o FILE TARGET... proposes them from your backups", cfg.Path)}
		}
		return nil, usageError{fmt.Errorf("name the drills to run, or give --all. %s", drillList(cfg.Path, defined))}
	}
	for _, n := range names {
		if _, ok := cfg.Drills[n]; !ok {
			return nil, usageError{unknownDrill(cfg, n)}
		}
	}
	return names, nil
}

// runDrills runs the drills one after the other in h, printing each
// record (and a progress line on a terminal); ending ctx interrupts the
// drill under way and runs no more. It returns the exit code of the run.
func (e *env) runDrills(ctx context.Context, h drillHost, names []string, asJSON bool) error {
	var bar *progressBar
	var w runWatch
	if !asJSON && isTerminal(e.stderr) {
		bar = &progressBar{w: e.stderr}
		w.progress = bar.update
	}
	if !asJSON {
		w.queued = func(drill string, ahead int) {
			fmt.Fprintf(e.stderr, "drill: %s waits for %d drill(s) before it (max_concurrent)\n", drill, ahead)
		}
	}
	recs, err := h.Recover(ctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		fmt.Fprintf(e.stderr, "drill: drill %s, started %s, never finished (its process died); recorded as interrupted\n",
			rec.Drill, rec.Started.Local().Format(time.DateTime))
	}
	var v verdicts
	for _, n := range names {
		bar.start(n)
		rec, err := h.Run(ctx, n, w)
		bar.clear()
		if hasCode(err) {
			return err
		}
		v.show(e, rec, asJSON)
		if err != nil {
			fmt.Fprintf(e.stderr, "drill: %v\n", err)
			v.errored = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	return v.exit()
}

// verdicts sums up the drills of one drill run for its exit code.
type verdicts struct{ failed, errored bool }

// show prints rec (when there is one) and notes its verdict.
func (v *verdicts) show(e *env, rec *record.Record, asJSON bool) {
	if rec == nil {
		return
	}
	// Records from before escaping may hold raw text from a backup.
	rec = rec.Escaped()
	if asJSON {
		writeJSON(e.stdout, rec)
	} else {
		printRecord(e.stdout, rec)
	}
	switch rec.Verdict {
	case record.VerdictFail:
		v.failed = true
	case record.VerdictError, record.VerdictInterrupted:
		v.errored = true
	}
}

func (v *verdicts) exit() error {
	switch {
	case v.failed:
		return withCode(exitFail, nil)
	case v.errored:
		return withCode(exitError, nil)
	}
	return nil
}

func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
		return
	}
	fmt.Fprintf(w, "%s\n", b)
}

// printRecord prints a drill result for a person.
func printRecord(w io.Writer, rec *record.Record) {
	rec = rec.Escaped()
	dur := rec.Finished.Sub(rec.Started)
	fmt.Fprintf(w, "%-5s %s  (service %s, backend %s)  %s\n", strings.ToUpper(verdictWord(rec.Verdict)), rec.Drill, rec.Service, rec.Backend, human.Duration(dur))
	if rec.RestorePoint.ID != "" {
		// The age of the point restored, which restore_point.random_within
		// may have picked older than the newest the RPO is judged on.
		age := rec.Started.Sub(rec.RestorePoint.Time)
		basis := ""
		if b := rec.Details["backup_time_basis"]; b != "" {
			basis = b + ", "
		}
		fmt.Fprintf(w, "      restore point %s of %s (%s%s old)\n", rec.RestorePoint.ID, rec.RestorePoint.Time.Format(time.RFC3339), basis, human.Duration(age))
	}
	if s := rec.Details["sandbox"]; s != "" {
		fmt.Fprintf(w, "      sandbox %s\n", textsafe.Escape(s))
	}
	switch {
	case rec.ManifestSHA256 != "" && rec.Tables != nil:
		var rows int64
		for _, t := range rec.Tables {
			rows += t.Rows
		}
		fmt.Fprintf(w, "      %d tables, %d rows restored from %s; manifest sha256 %s\n", len(rec.Tables), rows, human.Size(rec.Bytes), rec.ManifestSHA256)
	case rec.ManifestSHA256 != "":
		fmt.Fprintf(w, "      %d files, %s restored; manifest sha256 %s\n", rec.Files, human.Size(rec.Bytes), rec.ManifestSHA256)
	}
	if rec.Sample != nil && rec.Details["sample"] != "" {
		fmt.Fprintf(w, "      sample %s\n", rec.Details["sample"])
	}
	for _, c := range rec.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "      %s %-9s %s\n", mark, c.Name, c.Detail)
	}
	for _, r := range rec.Reasons {
		fmt.Fprintf(w, "      - %s\n", r)
	}
	if rec.LogOrigin != "" {
		fmt.Fprintf(w, "      evidence record %d in %s\n", rec.LogIndex, rec.LogOrigin)
	}
}

func verdictWord(v record.Verdict) string {
	if v == record.VerdictInterrupted {
		return "intr"
	}
	return string(v)
}

// progressBar draws one status line on a terminal for restores that take
// longer than a second.
type progressBar struct {
	w        io.Writer
	mu       sync.Mutex
	drill    string
	begun    time.Time
	drawn    bool
	lastDraw time.Time
}

// start begins the line of drill; on a nil bar it does nothing.
func (b *progressBar) start(drill string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drill, b.begun, b.drawn = drill, time.Now(), false
}

func (b *progressBar) update(p drills.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.begun) < time.Second || now.Sub(b.lastDraw) < 100*time.Millisecond {
		return
	}
	b.lastDraw, b.drawn = now, true
	line := fmt.Sprintf("%s: %s", b.drill, p.Phase)
	if p.Phase == "restore" {
		line += fmt.Sprintf(" %d files, %s", p.FilesDone, human.Size(p.BytesDone))
		if p.BytesTotal > 0 && p.BytesDone > 0 {
			frac := float64(p.BytesDone) / float64(p.BytesTotal)
			if frac > 1 {
				frac = 1
			}
			const width = 24
			n := int(frac * width)
			line += fmt.Sprintf(" [%s%s] %3.0f%%", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
			elapsed := now.Sub(b.begun)
			if frac > 0.02 {
				eta := time.Duration(float64(elapsed) * (1 - frac) / frac)
				line += " ETA " + human.Duration(eta.Round(time.Second))
			}
		}
	}
	if len(line) > 100 {
		line = line[:100]
	}
	fmt.Fprintf(b.w, "\r\033[2K%s", line)
}

// clear wipes the line; on a nil bar it does nothing.
func (b *progressBar) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[2K")
		b.drawn = false
	}
}
