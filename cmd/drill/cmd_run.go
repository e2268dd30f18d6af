package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
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
			if !all && len(names) == 0 {
				defined := cfg.DrillNames()
				if len(defined) == 0 {
					return usageError{fmt.Errorf("%s defines no drills; drill init -o FILE TARGET... proposes them from your backups", cfg.Path)}
				}
				return usageError{fmt.Errorf("name the drills to run, or give --all. %s", drillList(cfg.Path, defined))}
			}
			if all {
				names = cfg.DrillNames()
				if len(names) == 0 {
					return usageError{fmt.Errorf("%s defines no drills; drill init -o FILE TARGET... proposes them from your backups", cfg.Path)}
				}
			}
			for _, n := range names {
				if _, ok := cfg.Drills[n]; !ok {
					return usageError{unknownDrill(cfg, n)}
				}
			}
			c, _, err := dialAgent(ctxOf(cmd), cfg)
			if err != nil {
				return err
			}
			var bar *progressBar
			if !asJSON && isTerminal(e.stderr) {
				bar = &progressBar{w: e.stderr}
			}
			if c != nil {
				return runInAgent(e, cmd, c, names, asJSON, bar)
			}
			l, err := e.launcher(cfg)
			if err != nil {
				return withCode(exitError, err)
			}
			store, err := openStore(cfg, false)
			if err != nil {
				return withCode(exitError, err)
			}
			defer store.Close()
			root := drills.ScratchRoot(cfg.StateDir)
			r := &drills.Runner{
				Config: cfg, Launcher: l, Recorder: store, ScratchRoot: root,
				Logger: e.logger(), Host: drills.Hostname(), Version: version,
				Scratch: store, Marks: store,
			}
			recs, err := r.Recover(ctxOf(cmd))
			if err != nil {
				return withCode(exitError, err)
			}
			for _, rec := range recs {
				fmt.Fprintf(e.stderr, "drill: drill %s, started %s, never finished (its process died); recorded as interrupted\n",
					rec.Drill, rec.Started.Local().Format(time.DateTime))
			}
			if bar != nil {
				r.Progress = bar.update
			}
			var v verdicts
			for _, n := range names {
				if bar != nil {
					bar.start(n)
				}
				rec, err := r.Run(ctxOf(cmd), n)
				if bar != nil {
					bar.clear()
				}
				v.show(e, rec, asJSON)
				if err != nil {
					fmt.Fprintf(e.stderr, "drill: %v\n", err)
					v.errored = true
				}
				if ctxOf(cmd).Err() != nil {
					break
				}
			}
			return v.exit()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "run every drill in the config")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON evidence record per drill per line")
	return cmd
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

// dialAgent returns a client of the agent listening on cfg's socket and
// its health, or nils when none does (the command then works in-process).
// An agent that may not be used is a usage error (exit 2).
func dialAgent(ctx context.Context, cfg *config.Config) (*agent.Client, *agent.Health, error) {
	c, h, err := agent.Dial(ctx, cfg.Socket)
	if errors.Is(err, agent.ErrNoAgent) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	return c, h, nil
}

// runInAgent runs the drills one after the other in the agent, which
// records them; ending the command interrupts the drill under way.
func runInAgent(e *env, cmd *cobra.Command, c *agent.Client, names []string, asJSON bool, bar *progressBar) error {
	ctx := ctxOf(cmd)
	var v verdicts
	for _, n := range names {
		if bar != nil {
			bar.start(n)
		}
		res, err := c.Run(ctx, n, func(ev agent.Event) {
			if ev.Type == "queued" && ev.Position > 0 && !asJSON {
				fmt.Fprintf(e.stderr, "drill: %s waits for %d drill(s) before it (max_concurrent)\n", n, ev.Position)
			}
			if ev.Type == "progress" && bar != nil {
				p := ev.Progress
				bar.update(drills.Progress{Drill: n, Phase: drills.Phase(p.Phase), Progress: plugins.Progress{
					FilesDone: p.FilesDone, FilesTotal: p.FilesTotal, BytesDone: p.BytesDone, BytesTotal: p.BytesTotal}})
			}
		})
		if bar != nil {
			bar.clear()
		}
		var se *agent.StatusError
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(e.stderr, "drill: interrupted; the agent records drill %s as interrupted\n", n)
			return withCode(exitError, nil)
		case errors.As(err, &se) && se.Code == http.StatusNotFound:
			return usageError{se}
		case err != nil:
			fmt.Fprintf(e.stderr, "drill: %s\n", textsafe.Escape(err.Error()))
			v.errored = true
			continue
		}
		v.show(e, res.Record, asJSON)
		if res.Error != "" {
			fmt.Fprintf(e.stderr, "drill: %s\n", textsafe.Escape(res.Error))
			v.errored = true
		}
	}
	return v.exit()
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

func (b *progressBar) start(drill string) {
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

func (b *progressBar) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[2K")
		b.drawn = false
	}
}
