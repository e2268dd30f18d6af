package propose

import (
	"bytes"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/textsafe"
)

// Layout is where the config puts drill's own state.
type Layout struct {
	// StateDir is written as state_dir (relative to the config's folder
	// when relative); Socket as socket, when not "".
	StateDir, Socket string
	// StateWhy says why this state_dir, for its comment.
	StateWhy string
	// Header lines open the file, as comments.
	Header []string
}

// layout is what render needs: the operator's Layout, or a trial's.
type layout struct {
	Layout
	stateDir string
	trial    bool
}

// Render writes the proposal as a commented config and checks that it
// parses as the config it means to be: path is where it will be written
// ("" for stdout), relative paths in it are resolved against its folder.
func (p *Proposal) Render(l Layout, path string) ([]byte, error) {
	text := p.render(layout{Layout: l, stateDir: l.StateDir}, p.Drills)
	if _, err := config.Parse(path, text); err != nil {
		return nil, fmt.Errorf("the proposed config is not valid (a bug in drill init): %w\n%s", err, text)
	}
	return text, nil
}

// render writes the config for drills ds: the proposal's, or, for a
// trial, without claims, schedule or checks.
func (p *Proposal) render(l layout, ds []*Drill) []byte {
	w := &writer{}
	for _, h := range l.Header {
		w.line(0, "# "+h, "")
	}
	if len(l.Header) > 0 {
		w.blank()
	}
	w.line(0, "state_dir: "+q(l.stateDir), orDefault(l.StateWhy, "drill.db (the evidence), keys/ (the signing key), scratch/"))
	if !l.trial {
		if l.Socket != "" {
			w.line(0, "socket: "+q(l.Socket), "where the agent (drill agent) listens for drill run, list and history")
		}
	}
	if p.MaxScratch > 0 {
		w.line(0, "max_scratch_bytes: "+strconv.FormatInt(p.MaxScratch, 10), "given with --max-scratch: a restore that would write more is stopped")
	}
	w.blank()
	w.line(0, "services:", "what the organisation claims")
	if l.trial {
		// A trial claims nothing: no RPO, no RTO.
		for _, d := range ds {
			w.line(1, d.Service+": {owner: drill-init}", "")
		}
	}
	for _, s := range p.Services {
		if !used(s.Name, ds) {
			continue
		}
		if l.trial {
			continue
		}
		w.line(1, s.Name+":", "")
		w.line(2, "owner: "+q(s.Owner), orDefault(s.OwnerWhy, "who answers for this claim"))
		w.line(2, "rpo: "+duration(s.RPO), "the restored backup must be younger than this; "+s.RPOWhy)
		w.line(2, "rto: "+duration(s.RTO), "restore plus checks must finish within this; "+s.RTOWhy)
		w.line(2, "review_every: "+duration(s.ReviewEvery), "without a pass this often the claim is stale")
	}
	w.blank()
	w.line(0, "drills:", "")
	for i, d := range ds {
		if i > 0 {
			w.blank()
		}
		p.renderDrill(w, l, d)
	}
	return w.buf.Bytes()
}

func (p *Proposal) renderDrill(w *writer, l layout, d *Drill) {
	w.line(1, d.Name+":", "")
	if !l.trial {
		w.line(2, "# "+seen(d), "")
		if d.Target.Note != "" {
			w.line(2, "# "+d.Target.Note, "")
		}
	}
	w.line(2, "service: "+d.Service, "")
	if !l.trial {
		w.line(2, "schedule: "+q(d.Cadence.Schedule), d.Cadence.ScheduleWhy)
	}
	w.line(2, "backend: "+d.Target.Kind.Backend(), "")
	w.line(2, "source:", "")
	for _, kv := range d.Source {
		w.line(3, kv[0]+": "+q(kv[1]), sourceWhy(kv[0], kv[1]))
	}
	if d.SamplePercent > 0 {
		w.line(2, fmt.Sprintf("sample: {percent: %d}", d.SamplePercent), d.SampleWhy)
	}
	if l.trial {
		return
	}
	w.line(2, "checks:", "")
	if d.Target.Kind == KindPostgres || d.Target.Kind == KindMySQL {
		renderTables(w, d)
		return
	}
	what := "now"
	if d.SamplePercent > 0 {
		what = "in the restore point's listing now"
	}
	w.line(3, fmt.Sprintf("min_files: %d", below(d.Files)), fmt.Sprintf("%d files %s, less 10%%, rounded down", d.Files, what))
	if d.Bytes > 0 {
		w.line(3, "min_bytes: "+sizeBelow(d.Bytes), fmt.Sprintf("%s %s, less 10%%, rounded down", human.Size(d.Bytes), what))
	}
	if paths := d.Paths(); len(paths) > 0 {
		w.line(3, "paths:", "the largest top-level folders now")
		for _, f := range paths {
			w.line(4, "- "+q(d.PathOf(f)), fmt.Sprintf("%s, %s", count(f.Files, "file"), human.Size(f.Bytes)))
		}
	}
	w.line(3, "# manifest: FILE.sha256", "(every file it lists must come back with its digest; see the notes drill init printed)")
}

// renderTables writes a database drill's checks: every table, and the
// least rows of the largest.
func renderTables(w *writer, d *Drill) {
	if len(d.Tables) == 0 {
		w.line(3, "# tables: []", "the dump held no tables")
		return
	}
	tables := d.Tables
	why := fmt.Sprintf("every table the dump held (%d)", len(tables))
	if len(tables) > 50 {
		tables = largest(tables, 50)
		why = fmt.Sprintf("the 50 largest of the %d tables the dump held", len(d.Tables))
	}
	w.line(3, "tables:", why)
	for _, t := range sortedByName(tables) {
		w.line(4, "- "+q(t.Name), "")
	}
	big := largest(d.Tables, 5)
	first := true
	for _, t := range big {
		if t.Rows <= 0 {
			continue
		}
		if first {
			w.line(3, "min_rows:", "the largest tables' rows now, less 10%, rounded down")
			first = false
		}
		w.line(4, fmt.Sprintf("%s: %d", q(t.Name), below(t.Rows)), count(t.Rows, "row")+" now")
	}
}

// seen says what the trial saw of a drill's backup.
func seen(d *Drill) string {
	n := len(d.Points)
	what := fmt.Sprintf("%s %s", d.Target.Kind, d.Target.Arg)
	took := d.Took.Round(time.Millisecond)
	var got string
	switch {
	case d.Target.Kind == KindPostgres || d.Target.Kind == KindMySQL:
		var rows int64
		for _, t := range d.Tables {
			rows += t.Rows
		}
		got = fmt.Sprintf("%d tables, %d rows", len(d.Tables), rows)
	case d.SamplePercent > 0:
		got = fmt.Sprintf("a %d%% slice of %d files, %s", d.SamplePercent, d.Files, human.Size(d.Bytes))
	default:
		got = fmt.Sprintf("%d files, %s", d.Files, human.Size(d.Bytes))
	}
	return fmt.Sprintf("%s: %d restore point(s), the newest of %s; drill init restored it (%s) in %s",
		what, n, d.Newest.Time.UTC().Format("2006-01-02 15:04 UTC"), got, took)
}

// count is "1 file", "2 files".
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sourceWhy(key, value string) string {
	glob := strings.ContainsAny(value, "*?[")
	switch {
	case key == "path" && glob:
		return "directory copies: the one written last is restored"
	case key == "path":
		return "a directory copy"
	case (key == "archive" || key == "dump") && glob:
		return "the newest match is restored"
	}
	switch key {
	case "password_file":
		return "the password is read from this file at each drill, never written here"
	case "password_command":
		return "prints the password at each drill; it is never written here"
	case "server":
		return "where a scratch database is made and always dropped"
	}
	return ""
}

func used(service string, ds []*Drill) bool {
	for _, d := range ds {
		if d.Service == service {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// q quotes a string as a YAML double-quoted scalar (Go's escapes are
// YAML's), so that no value is read as something else.
func q(s string) string { return strconv.Quote(s) }

// writer writes YAML lines with comments aligned.
type writer struct{ buf bytes.Buffer }

// commentCol is where comments start, when the line leaves room.
const commentCol = 36

// line writes text (a YAML line, or a comment starting with "#") and an
// aligned comment. Comments carry names drill init read from backups (file
// names, restic hosts and paths): they are escaped (textsafe), so a line
// break in one cannot start a line of YAML of its own. Values are quoted
// by q instead.
func (w *writer) line(indent int, text, comment string) {
	if strings.HasPrefix(text, "#") {
		text = textsafe.Escape(text)
	}
	comment = textsafe.Escape(comment)
	s := strings.Repeat("  ", indent) + text
	if comment != "" {
		if strings.HasPrefix(text, "#") {
			s += " " + comment
		} else {
			s += strings.Repeat(" ", max(1, commentCol-len(s))) + "# " + comment
		}
	}
	w.buf.WriteString(s + "\n")
}

func (w *writer) blank() { w.buf.WriteString("\n") }
