package main

import (
	"github.com/drillhq/drill/internal/human"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/textsafe"
)

// positionPage is the data of the HTML position page.
type positionPage struct {
	At         time.Time
	Checkpoint string
	Counts     []statusCount
	Services   []drills.ServicePosition
}

type statusCount struct {
	Status drills.Status
	N      int
}

var positionFuncs = template.FuncMap{
	"ago": func(at time.Time, t *time.Time) string {
		if t == nil {
			return "never"
		}
		return human.Duration(at.Sub(*t).Round(time.Minute)) + " ago"
	},
	"dur": func(s float64) string {
		if s == 0 {
			return "–"
		}
		return human.Duration(time.Duration(s * float64(time.Second)).Round(time.Second))
	},
	"label": func(s drills.Status) string { return strings.ReplaceAll(string(s), "_", " ") },
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	// esc shows text from records in its escaped form (html/template
	// then escapes it for HTML): a reason never carries a control or
	// bidi character into the page.
	"esc": textsafe.Escape,
}

// positionTmpl is a page a manager can open anywhere: inline CSS, no
// script, nothing fetched.
var positionTmpl = template.Must(template.New("position").Funcs(positionFuncs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Recovery position, {{date .At}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em;margin:0 0 .2em}
.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-weight:600;color:#fff;white-space:nowrap}
.proven{background:#2e7d32}.at_risk{background:#ef6c00}.failing{background:#c62828}.stale{background:#6d4c41}.untested{background:#757575}
.counts span{margin-right:1em}
.drill td{color:#555;font-size:.9em;border-bottom:1px dotted #eee}
.reasons{color:#b71c1c;font-size:.9em;margin:.2em 0 0;padding-left:1.2em}
pre{background:#f7f7f7;padding:.5em;font-size:.85em;overflow-x:auto}
@media print{body{margin:0}th{background:#eee}}
</style></head><body>
<h1>Recovery position</h1>
<p class="meta">As of {{date .At}}, computed from the signed evidence log alone.</p>
<p class="counts">{{range .Counts}}<span><span class="badge {{.Status}}">{{label .Status}}</span> {{.N}}</span>{{end}}</p>
<table>
<tr><th>Service</th><th>Owner</th><th>Priority</th><th>RPO</th><th>RTO</th><th>Status</th><th>Last pass</th><th>Last drill</th><th>Restore time (last pass)</th><th>Backup age (last pass)</th><th>Coverage (within review)</th></tr>
{{range $s := .Services}}
<tr><td><strong>{{.Service}}</strong>{{if .Description}}<br><span class="meta">{{.Description}}</span>{{end}}</td>
<td>{{.Owner}}</td><td>{{.Priority}}</td><td>{{dur .RPO}}</td><td>{{dur .RTO}}</td>
<td><span class="badge {{.Status}}">{{label .Status}}</span></td>
<td>{{ago $.At .LastPass}}</td>
<td>{{if .LastDrill}}{{.LastVerdict}}, {{ago $.At .LastDrill}}{{if .LastSandbox}}<br><span class="meta">sandbox: {{.LastSandbox}}</span>{{end}}{{else}}never{{end}}</td>
<td>{{if .LastPass}}{{dur .MeasuredRTO}}{{else}}–{{end}}</td>
<td>{{if .LastPass}}{{dur .BackupAge}}{{else}}–{{end}}</td>
<td>{{.Coverage}}</td></tr>
{{if .Reasons}}<tr><td colspan="11"><ul class="reasons">{{range .Reasons}}<li>{{esc .}}</li>{{end}}</ul></td></tr>{{end}}
{{range .Drills}}<tr class="drill"><td>&nbsp;&nbsp;drill {{.Drill}}</td><td colspan="4"></td>
<td><span class="badge {{.Status}}">{{label .Status}}</span></td>
<td>{{ago $.At .LastPass}}</td>
<td>{{if .LastDrill}}{{.LastVerdict}}, {{ago $.At .LastDrill}}{{if .LastSandbox}}<br><span class="meta">sandbox: {{.LastSandbox}}</span>{{end}}{{else}}never{{end}}</td>
<td>{{if .Trend}}{{range $i, $t := .Trend}}{{if $i}} → {{end}}{{dur $t}}{{end}}{{if .Rising}} <strong>rising</strong>{{end}}{{else}}–{{end}}</td>
<td>{{if .LastPass}}{{dur .BackupAge}}{{else}}–{{end}}</td>
<td>{{.Coverage}}</td></tr>
{{end}}{{end}}
</table>
{{if .Checkpoint}}<p class="meta">Evidence: the log's signed checkpoint (origin, number of records, root hash); verify it with <code>drill evidence verify</code>:</p>
<pre>{{.Checkpoint}}</pre>{{else}}<p class="meta">No evidence yet: no drill has run.</p>{{end}}
</body></html>
`))

// writePositionHTML writes the position page.
func writePositionHTML(w io.Writer, pos []drills.ServicePosition, at time.Time, checkpoint string) error {
	page := positionPage{At: at, Checkpoint: checkpoint, Services: pos}
	for _, st := range drills.Statuses {
		n := 0
		for _, sp := range pos {
			if sp.Status == st {
				n++
			}
		}
		page.Counts = append(page.Counts, statusCount{st, n})
	}
	return positionTmpl.Execute(w, page)
}
