package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/textsafe"
)

// positionFlags are drill position's flags.
type positionFlags struct {
	asJSON               bool
	at, failOn, htmlFile string
}

func newPositionCmd(e *env) *cobra.Command {
	var f positionFlags
	cmd := &cobra.Command{
		Use:   "position [--json] [--html FILE] [--at T] [--fail-on STATUS,...]",
		Short: "The recovery position: per service, what is claimed against what the evidence proves",
		Long: `Print the recovery position of every service, from the signed evidence alone:
owner, priority, claimed RPO and RTO, status, last pass, last drill and verdict, the
restore time and backup age of the last pass, the restore-time trend, and the
reasons of the latest failure.

Status: proven (the latest drill passed within review_every), at_risk (the
latest drill did not pass, but an earlier pass is still within review_every),
failing (the latest drill failed and no pass is within review_every), stale (no
pass within review_every), untested (never passed, or no drill). A service is
as bad as its worst drill.

--at T shows the position as it was at T (a date or an RFC 3339 time), from
the records finished by then. --fail-on lists statuses that make the command
exit 1 when any service is in one of them (for a cron or CI gate).

Exit codes: 0 printed; 1 a service is in a --fail-on status; 2 usage.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			when, gate, err := f.parse()
			if err != nil {
				return err
			}
			return e.onHost(cmd, func(ctx context.Context, cfg *config.Config, h drillHost) error {
				return e.showPosition(ctx, cfg, h, f, when, gate)
			})
		},
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the position as a JSON array")
	cmd.Flags().StringVar(&f.at, "at", "", "the position as it was at T (a date or an RFC 3339 time)")
	cmd.Flags().StringVar(&f.htmlFile, "html", "", "also write the position as a self-contained HTML page to FILE")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "", "exit 1 when a service is in one of these statuses (comma-separated)")
	return cmd
}

// parse parses --at (the time of the position, now without it) and
// --fail-on (the statuses that fail the command).
func (f positionFlags) parse() (time.Time, []drills.Status, error) {
	when := time.Now()
	if f.at != "" {
		t, err := parseWhen(f.at)
		if err != nil {
			return when, nil, usageError{fmt.Errorf("--at: %w", err)}
		}
		when = t
	}
	var gate []drills.Status
	if f.failOn != "" {
		for _, name := range strings.Split(f.failOn, ",") {
			s := drills.Status(strings.TrimSpace(name))
			if !slices.Contains(drills.Statuses, s) {
				return when, nil, usageError{fmt.Errorf("--fail-on: unknown status %q (want proven, at_risk, stale, untested or failing)", s)}
			}
			gate = append(gate, s)
		}
	}
	return when, gate, nil
}

// showPosition prints the position at when of cfg's services from the
// evidence h holds (and writes it to --html FILE), and fails (exit 1)
// when a service's status is in gate.
func (e *env) showPosition(ctx context.Context, cfg *config.Config, h drillHost, f positionFlags, when time.Time, gate []drills.Status) error {
	recs, checkpoint, err := h.Evidence(ctx, drills.PositionQueryFor(cfg, when))
	if err != nil {
		return err
	}
	for i, r := range recs {
		// Records from before escaping may hold raw text from a backup:
		// the position (text, JSON and HTML) is made from escaped ones.
		recs[i] = r.Escaped()
	}
	pos := drills.Position(cfg, recs, when)
	if pos == nil {
		pos = []drills.ServicePosition{} // JSON: [], not null
	}
	if f.htmlFile != "" {
		if err := writeFileWith(f.htmlFile, func(w io.Writer) error { return writePositionHTML(w, pos, when, checkpoint) }); err != nil {
			return withCode(exitUsage, fmt.Errorf("--html: %w", err))
		}
	}
	if f.asJSON {
		b, err := json.MarshalIndent(pos, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		printPosition(e, pos, when, checkpoint)
		if len(recs) == 0 {
			printFirstSteps(e, cfg, h.InAgent())
		}
	}
	return gateFailures(pos, gate)
}

// gateFailures is an error (exit 1) naming every service whose status is
// in gate; nil when there is none.
func gateFailures(pos []drills.ServicePosition, gate []drills.Status) error {
	var bad []string
	for _, sp := range pos {
		if slices.Contains(gate, sp.Status) {
			bad = append(bad, sp.Service+" is "+string(sp.Status))
		}
	}
	if len(bad) > 0 {
		return withCode(exitFail, errors.New(strings.Join(bad, "; ")))
	}
	return nil
}

// printFirstSteps says, on an install without evidence, what to do
// first, instead of leaving a table of untested services to puzzle over.
func printFirstSteps(e *env, cfg *config.Config, viaAgent bool) {
	file := shellQuote(textsafe.Escape(cfg.Path))
	switch {
	case len(cfg.Services) == 0:
		fmt.Fprintf(e.stdout, "no services in %s, so there is no position to show.\n"+
			"  drill init -o %s TARGET... proposes services and drills from your backups\n", file, file)
		return
	case len(cfg.Drills) == 0:
		fmt.Fprintf(e.stdout, "no drills in %s: a service is proven only by drills that restore its backups.\n"+
			"  drill init -o FILE TARGET... proposes drills from your backups\n", file)
		return
	case viaAgent:
		fmt.Fprintf(e.stdout, "no evidence yet: the agent has not finished a drill, so nothing is proven. What to do first:\n"+
			"  drill run --all    run every drill now, in the agent, and record its evidence\n"+
			"  drill list         when each drill runs next\n")
		return
	}
	scheduled := 0
	for _, d := range cfg.Drills {
		if d.Schedule != "" {
			scheduled++
		}
	}
	fmt.Fprintf(e.stdout, "no evidence yet: no drill has run with state_dir %s, so nothing is proven. What to do first:\n"+
		"  drill run --all    run every drill now and record its evidence, then look again\n", textsafe.Escape(cfg.StateDir))
	if scheduled > 0 {
		fmt.Fprintf(e.stdout, "  or start the agent (systemctl enable --now drill, or drill agent), which runs the %d scheduled drill(s) on their schedules\n", scheduled)
	}
}

func printPosition(e *env, pos []drills.ServicePosition, at time.Time, checkpoint string) {
	if len(pos) == 0 {
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tOWNER\tPRI\tRPO\tRTO\tSTATUS\tLAST PASS\tLAST DRILL\tRESTORE/RTO\tBACKUP AGE/RPO\tTREND\tCOVERAGE")
	age := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return human.Duration(at.Sub(*t).Round(time.Minute)) + " ago"
	}
	claim := func(s float64) string {
		if s == 0 {
			return "-"
		}
		return human.Duration(time.Duration(s * float64(time.Second)))
	}
	for _, sp := range pos {
		last := "never"
		if sp.LastDrill != nil {
			last = string(sp.LastVerdict) + ", " + age(sp.LastDrill)
		}
		measured, backup := "-", "-"
		if sp.LastPass != nil {
			measured = claim(sp.MeasuredRTO) + " / " + claim(sp.RTO)
			backup = claim(sp.BackupAge) + " / " + claim(sp.RPO)
		}
		trend := "-"
		for _, d := range sp.Drills {
			if d.Rising {
				trend = "rising (" + d.Drill + ")"
			} else if len(d.Trend) > 1 && trend == "-" {
				trend = "steady"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sp.Service, sp.Owner, sp.Priority, claim(sp.RPO), claim(sp.RTO),
			strings.ToUpper(string(sp.Status)), age(sp.LastPass), last, measured, backup, trend, sp.Coverage)
	}
	_ = tw.Flush()
	for _, sp := range pos {
		for _, r := range sp.Reasons {
			fmt.Fprintf(e.stdout, "  %s: %s\n", sp.Service, textsafe.Escape(r))
		}
	}
	if checkpoint != "" {
		lines := strings.SplitN(checkpoint, "\n", 4)
		if len(lines) >= 3 {
			fmt.Fprintf(e.stdout, "from the signed evidence of log %s: %s records, checkpoint root %s; as of %s\n", lines[0], lines[1], lines[2], at.Local().Format(time.DateTime))
		}
	}
}

// writeFileWith writes a file through a temporary one renamed into place.
func writeFileWith(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
