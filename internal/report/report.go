// Package report renders drill records for people: the CSV and HTML
// evidence reports of an export bundle (and of drill evidence export). A
// report is a function of the records and the export's description alone,
// so that a bundle verifier rebuilds it byte for byte from the verified
// records and compares.
package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
)

// Info describes the export a report is about.
type Info struct {
	Origin     string    // the log origin, e.g. "backup1/drill"
	LogSize    int64     // records in the whole log
	Selection  string    // human description of the selection, e.g. "all records" or "service billing, since 2026-01-01"
	Created    time.Time // when the export was made
	Checkpoint string    // the latest signed checkpoint's text (3 lines: origin, size, base64 root), shown verbatim
}

// reportCSVHeader is the header row of WriteCSV.
var reportCSVHeader = []string{
	"log_index", "service", "drill", "backend", "host", "verdict",
	"started", "finished", "restore_seconds", "backup_age_seconds",
	"rpo_seconds", "rto_seconds", "restore_point_id", "restore_point_time",
	"files", "bytes", "manifest_sha256", "checks", "reasons",
}

// WriteCSV writes one CSV row per record (RFC 4180, encoding/csv),
// with a header row: log_index, service, drill, backend, host, verdict,
// started, finished (RFC 3339 UTC), restore_seconds, backup_age_seconds,
// rpo_seconds, rto_seconds, restore_point_id, restore_point_time, files,
// bytes, manifest_sha256, checks (e.g. "min_files ok; manifest FAIL"),
// reasons (joined with " | "). Records are written in the order given
// (log order). Times are empty when not set (a zero time), and so are
// rpo_seconds and rto_seconds when the drill had no RPO or RTO. Field
// values are written as recorded, with control characters escaped
// (textsafe.Escape): a spreadsheet opening the file may treat a value
// starting with "=" as a formula.
func WriteCSV(w io.Writer, recs []*record.Record) error {
	for i, rec := range recs {
		if rec == nil {
			return fmt.Errorf("write CSV report: record %d of %d is nil", i, len(recs))
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(reportCSVHeader); err != nil {
		return fmt.Errorf("write CSV report header: %w", err)
	}
	if cw.Flush(); cw.Error() != nil {
		return fmt.Errorf("write CSV report header: %w", cw.Error())
	}
	// The rows in parts on every core; a bytes.Buffer takes every write.
	err := writeOrdered(w, len(recs), func(lo, hi int, b *bytes.Buffer) {
		pw := csv.NewWriter(b)
		for _, rec := range recs[lo:hi] {
			_ = pw.Write(csvRow(rec))
		}
		pw.Flush()
	})
	if err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	return nil
}

// csvRow returns the fields of rec in the order of reportCSVHeader.
func csvRow(rec *record.Record) []string {
	checks := make([]string, len(rec.Checks))
	for i, c := range rec.Checks {
		checks[i] = c.Name + " " + checkWord(c.OK)
	}
	return textsafe.EscapeAll([]string{
		strconv.FormatInt(rec.LogIndex, 10),
		rec.Service,
		rec.Drill,
		rec.Backend,
		rec.Host,
		string(rec.Verdict),
		csvTime(rec.Started),
		csvTime(rec.Finished),
		csvSeconds(rec.RestoreSeconds),
		csvSeconds(rec.BackupAgeSeconds),
		csvOptionalSeconds(rec.RPOSeconds),
		csvOptionalSeconds(rec.RTOSeconds),
		rec.RestorePoint.ID,
		csvTime(rec.RestorePoint.Time),
		strconv.FormatInt(rec.Files, 10),
		strconv.FormatInt(rec.Bytes, 10),
		rec.ManifestSHA256,
		strings.Join(checks, "; "),
		strings.Join(rec.Reasons, " | "),
	})
}

// checkWord is how a check's outcome is written in reports.
func checkWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// csvTime formats t as RFC 3339 in UTC, or "" for the zero time.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSeconds formats a number of seconds with as many digits as needed.
func csvSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64)
}

// csvOptionalSeconds is csvSeconds, but "" for 0 (not set).
func csvOptionalSeconds(s float64) string {
	if s == 0 {
		return ""
	}
	return csvSeconds(s)
}

// WriteHTML writes a self-contained HTML page (html/template, inline
// CSS, no JavaScript, no external resources) for an auditor: a header with
// info (origin, log size, selection, created, the checkpoint text in a
// <pre>), a summary table with one row per service and drill (service,
// drill, records, pass/fail/error/interrupted counts, last verdict, last
// drill date, last pass date, longest restore time), then per service and
// per drill (sorted by service, then drill) a table of that drill's
// records, newest (highest log index) first: log index, started date,
// restore point id and time, verdict (colored: pass green, fail red,
// error/interrupted amber), restore time, backup age, files/bytes, checks
// (each name with ok/FAIL and its detail), reasons.
//
// All record text is escaped by html/template, and its control
// characters by textsafe.Escape: record fields are untrusted. Times are shown in UTC, durations human-readably ("1h02m",
// "45s").
func WriteHTML(w io.Writer, info Info, recs []*record.Record) error {
	page, err := newReportPage(info, recs)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := writeReportPage(w, page); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

// writeReportPage renders page with reportTmpl's templates and writeRow.
func writeReportPage(w io.Writer, page *reportPage) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := reportTmpl.ExecuteTemplate(bw, "head", page); err != nil {
		return err
	}
	for _, svc := range page.Services {
		if err := reportTmpl.ExecuteTemplate(bw, "service", svc); err != nil {
			return err
		}
		for _, d := range svc.Drills {
			if err := reportTmpl.ExecuteTemplate(bw, "drill", d); err != nil {
				return err
			}
			_ = writeOrdered(bw, len(d.recs), func(lo, hi int, b *bytes.Buffer) { // an error sticks: Flush returns it
				for _, rec := range d.recs[lo:hi] {
					writeRow(b, newRecordRow(rec))
				}
			})
			_, _ = bw.WriteString("\n</tbody>\n</table>\n</section>")
		}
		_, _ = bw.WriteString("\n</section>")
	}
	if err := reportTmpl.ExecuteTemplate(bw, "foot", page); err != nil {
		return err
	}
	return bw.Flush()
}

// reportPage is what reportTmpl renders.
type reportPage struct {
	Origin     string
	LogSize    int64
	Selection  string
	Created    string
	Checkpoint string
	Records    int
	Summary    []summaryRow
	Services   []serviceSection
}

// summaryRow is one service and drill in the summary table.
type summaryRow struct {
	Anchor         string
	Service        string
	Drill          string
	Records        int
	Pass           int
	Fail           int
	Error          int
	Interrupted    int
	LastVerdict    verdictView
	LastDrill      string
	LastPass       string
	LongestRestore string
}

// serviceSection is the records of one service, drill by drill.
type serviceSection struct {
	Service string
	Drills  []drillSection
}

// drillSection is the records of one drill, newest first.
type drillSection struct {
	Anchor string
	Drill  string
	recs   []*record.Record // newest first
}

// recordRow is one record in a drill's table.
type recordRow struct {
	Anchor     string
	LogIndex   int64
	Started    string
	PointID    string
	PointTime  string
	PointDesc  string
	Verdict    verdictView
	Restore    string
	RTO        string
	BackupAge  string
	RPO        string
	Files      int64
	Bytes      string
	BytesExact int64
	Checks     []checkView
	Reasons    []string
}

// verdictView is a verdict and the CSS class that colors it.
type verdictView struct {
	Text  string
	Class string
}

// checkView is one check as shown in a record's row.
type checkView struct {
	Name   string
	OK     bool
	Word   string
	Detail string
}

// drillKey groups records by service and drill.
type drillKey struct{ service, drill string }

// newReportPage groups and formats recs for reportTmpl.
func newReportPage(info Info, recs []*record.Record) (*reportPage, error) {
	groups := make(map[drillKey][]*record.Record)
	for i, rec := range recs {
		if rec == nil {
			return nil, fmt.Errorf("record %d of %d is nil", i, len(recs))
		}
		k := drillKey{rec.Service, rec.Drill}
		groups[k] = append(groups[k], rec)
	}
	keys := make([]drillKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b drillKey) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.drill, b.drill))
	})

	page := &reportPage{
		Origin:     textsafe.Escape(info.Origin),
		LogSize:    info.LogSize,
		Selection:  textsafe.Escape(info.Selection),
		Created:    reportTime(info.Created, "2006-01-02 15:04:05 UTC"),
		Checkpoint: info.Checkpoint,
		Records:    len(recs),
	}
	for n, k := range keys {
		rs := slices.Clone(groups[k])
		// Newest first: log order is append order.
		slices.SortStableFunc(rs, func(a, b *record.Record) int { return cmp.Compare(b.LogIndex, a.LogIndex) })
		anchor := fmt.Sprintf("drill-%d", n+1)
		page.Summary = append(page.Summary, summarize(anchor, k, rs))

		sec := drillSection{Anchor: anchor, Drill: textsafe.Escape(k.drill), recs: rs}
		if len(page.Services) == 0 || page.Services[len(page.Services)-1].Service != textsafe.Escape(k.service) {
			page.Services = append(page.Services, serviceSection{Service: textsafe.Escape(k.service)})
		}
		last := &page.Services[len(page.Services)-1]
		last.Drills = append(last.Drills, sec)
	}
	return page, nil
}

// summarize returns the summary row of one drill's records, newest first.
func summarize(anchor string, k drillKey, newestFirst []*record.Record) summaryRow {
	row := summaryRow{
		Anchor:   anchor,
		Service:  textsafe.Escape(k.service),
		Drill:    textsafe.Escape(k.drill),
		Records:  len(newestFirst),
		LastPass: "never",
	}
	longest := 0.0
	for i, rec := range newestFirst {
		switch rec.Verdict {
		case record.VerdictPass:
			row.Pass++
			if row.LastPass == "never" {
				row.LastPass = reportDate(rec.Started)
			}
		case record.VerdictFail:
			row.Fail++
		case record.VerdictError:
			row.Error++
		case record.VerdictInterrupted:
			row.Interrupted++
		}
		if i == 0 {
			row.LastVerdict = newVerdictView(rec.Verdict)
			row.LastDrill = reportDate(rec.Started)
		}
		longest = max(longest, rec.RestoreSeconds)
	}
	row.LongestRestore = formatSeconds(longest)
	return row
}

// newRecordRow formats one record for its drill's table.
func newRecordRow(rec *record.Record) recordRow {
	row := recordRow{
		Anchor:     fmt.Sprintf("rec-%d", rec.LogIndex),
		LogIndex:   rec.LogIndex,
		Started:    reportDate(rec.Started),
		PointID:    textsafe.Escape(rec.RestorePoint.ID),
		PointTime:  reportDate(rec.RestorePoint.Time),
		PointDesc:  textsafe.Escape(rec.RestorePoint.Description),
		Verdict:    newVerdictView(rec.Verdict),
		Restore:    formatSeconds(rec.RestoreSeconds),
		BackupAge:  "—",
		Files:      rec.Files,
		Bytes:      human.Size(rec.Bytes),
		BytesExact: rec.Bytes,
		Reasons:    textsafe.EscapeAll(slices.Clone(rec.Reasons)),
	}
	if rec.BackupAgeSeconds != 0 || !rec.RestorePoint.Time.IsZero() {
		row.BackupAge = formatSeconds(rec.BackupAgeSeconds)
	}
	if rec.RTOSeconds != 0 {
		row.RTO = formatSeconds(rec.RTOSeconds)
	}
	if rec.RPOSeconds != 0 {
		row.RPO = formatSeconds(rec.RPOSeconds)
	}
	for _, c := range rec.Checks {
		row.Checks = append(row.Checks, checkView{Name: textsafe.Escape(c.Name), OK: c.OK, Word: checkWord(c.OK), Detail: textsafe.Escape(c.Detail)})
	}
	return row
}

// writeRow writes one record's row of a drill's table, each value
// escaped as html/template escapes text (htmlEscape). It is the bulk of a
// large report, and html/template's reflection made it the bulk of
// verify's time too; the values are few and the markup fixed, so it is
// written by hand:
//
//	<tr id="rec-N">
//	<td class="num">LogIndex</td>
//	<td class="nowrap">Started</td>
//	<td>[<code>PointID</code><br>]<span class="nowrap">PointTime</span>[<br><span class="small">PointDesc</span>]</td>
//	<td><span class="v CLASS">Verdict</span></td>
//	<td class="num">Restore[<br><span class="small">RTO x</span>]</td>
//	<td class="num">BackupAge[<br><span class="small">RPO x</span>]</td>
//	<td class="num">Files<br><span title="N bytes">Bytes</span></td>
//	<td><ul class="list"><li>Name <span class="ok|bad">Word</span>[: Detail]</li>...</ul> or —</td>
//	<td><ul class="list"><li>Reason</li>...</ul> or —</td>
//	</tr>
func writeRow(b *bytes.Buffer, r recordRow) {
	b.WriteString("\n<tr id=\"")
	b.WriteString(htmlEscape(r.Anchor))
	b.WriteString("\">\n<td class=\"num\">")
	b.WriteString(strconv.FormatInt(r.LogIndex, 10))
	b.WriteString("</td>\n<td class=\"nowrap\">")
	b.WriteString(htmlEscape(r.Started))
	b.WriteString("</td>\n<td>")
	if r.PointID != "" {
		b.WriteString("<code>" + htmlEscape(r.PointID) + "</code><br>")
	}
	b.WriteString("<span class=\"nowrap\">" + htmlEscape(r.PointTime) + "</span>")
	if r.PointDesc != "" {
		b.WriteString("<br><span class=\"small\">" + htmlEscape(r.PointDesc) + "</span>")
	}
	b.WriteString("</td>\n<td><span class=\"v " + htmlEscape(r.Verdict.Class) + "\">" + htmlEscape(r.Verdict.Text) + "</span></td>\n<td class=\"num\">")
	b.WriteString(htmlEscape(r.Restore))
	if r.RTO != "" {
		b.WriteString("<br><span class=\"small\">RTO " + htmlEscape(r.RTO) + "</span>")
	}
	b.WriteString("</td>\n<td class=\"num\">")
	b.WriteString(htmlEscape(r.BackupAge))
	if r.RPO != "" {
		b.WriteString("<br><span class=\"small\">RPO " + htmlEscape(r.RPO) + "</span>")
	}
	b.WriteString("</td>\n<td class=\"num\">")
	b.WriteString(strconv.FormatInt(r.Files, 10))
	b.WriteString("<br><span title=\"" + strconv.FormatInt(r.BytesExact, 10) + " bytes\">" + htmlEscape(r.Bytes) + "</span></td>\n<td>")
	if len(r.Checks) == 0 {
		b.WriteString("—")
	} else {
		b.WriteString("<ul class=\"list\">")
		for _, c := range r.Checks {
			class := "bad"
			if c.OK {
				class = "ok"
			}
			b.WriteString("<li>" + htmlEscape(c.Name) + " <span class=\"" + class + "\">" + htmlEscape(c.Word) + "</span>")
			if c.Detail != "" {
				b.WriteString(": " + htmlEscape(c.Detail))
			}
			b.WriteString("</li>")
		}
		b.WriteString("</ul>")
	}
	b.WriteString("</td>\n<td>")
	if len(r.Reasons) == 0 {
		b.WriteString("—")
	} else {
		b.WriteString("<ul class=\"list\">")
		for _, reason := range r.Reasons {
			b.WriteString("<li>" + htmlEscape(reason) + "</li>")
		}
		b.WriteString("</ul>")
	}
	b.WriteString("</td>\n</tr>")
}

// htmlEscaper escapes text as html/template does in element content and
// quoted attribute values.
var htmlEscaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)

// htmlEscape escapes s for HTML text or a quoted attribute value.
func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// newVerdictView picks the color class of a verdict; the class never
// comes from the record, so an unknown verdict is shown uncolored.
func newVerdictView(v record.Verdict) verdictView {
	class := "v-other"
	switch v {
	case record.VerdictPass:
		class = "v-pass"
	case record.VerdictFail:
		class = "v-fail"
	case record.VerdictError, record.VerdictInterrupted:
		class = "v-warn"
	}
	return verdictView{Text: textsafe.Escape(string(v)), Class: class}
}

// reportDate formats t in UTC with layout "2006-01-02 15:04 UTC", or "—"
// for the zero time.
func reportDate(t time.Time) string {
	return reportTime(t, "2006-01-02 15:04 UTC")
}

// reportTime formats t in UTC with layout, or "—" for the zero time.
func reportTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layout)
}

// formatSeconds prints a number of seconds for a reader: "2.5s", "45s",
// "12m05s", "1h02m", "3d04h".
func formatSeconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return strconv.FormatFloat(s, 'f', -1, 64)
	}
	if s < 0 {
		return "-" + formatSeconds(-s)
	}
	if s < 9.95 {
		return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64) + "s"
	}
	const minute, hour, day = 60, 60 * 60, 24 * 60 * 60
	switch secs := int64(math.Round(s)); {
	case secs < minute:
		return fmt.Sprintf("%ds", secs)
	case secs < hour:
		return fmt.Sprintf("%dm%02ds", secs/minute, secs%minute)
	case secs < day:
		mins := (secs + minute/2) / minute
		if mins*minute >= day {
			return "1d00h"
		}
		return fmt.Sprintf("%dh%02dm", mins/60, mins%60)
	default:
		hours := (secs + hour/2) / hour
		return fmt.Sprintf("%dd%02dh", hours/24, hours%24)
	}
}

// reportTmpl is the auditor's HTML page; it is rendered from a reportPage.
var reportTmpl = template.Must(template.New("report").Parse(reportHTML))

// reportHTML is the text of reportTmpl. It loads nothing and runs no
// script; its Content-Security-Policy forbids both, in case a browser
// would be tricked into either.
//
// It is four templates, so that the rows of the records, the bulk of a
// large report, are written by writeRow between "drill" and its end:
// head (up to the summary), then per service "service" and per drill
// "drill", the rows, and the closing tags; then foot.
const reportHTML = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Restore drill evidence: {{.Origin}}</title>
<style>
@page { size: A4; margin: 14mm 12mm; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 10pt/1.35 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111; margin: 1.5em auto; max-width: 75em; padding: 0 1em; }
h1 { font-size: 16pt; margin: 0 0 .5em; }
h2 { font-size: 13pt; margin: 1.8em 0 .4em; border-bottom: 1px solid #888; }
h3 { font-size: 11pt; margin: 1.3em 0 .3em; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
dl.info { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0 0 1em; }
dl.info dt { font-weight: bold; }
dl.info dd { margin: 0; }
pre.checkpoint { font-size: 8.5pt; background: #f4f4f4; border: 1px solid #ccc; padding: .4em .6em; margin: .2em 0 0; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 2px 4px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
code { font-size: 8pt; word-break: break-all; }
.small { font-size: 7.5pt; color: #444; }
.v { font-weight: bold; padding: 0 .3em; border-radius: 2px; white-space: nowrap; }
.v-pass { color: #1b5e20; background: #c8e6c9; }
.v-fail { color: #b71c1c; background: #ffcdd2; }
.v-warn { color: #7a4100; background: #ffe0b2; }
.v-other { color: #111; background: #e0e0e0; }
ul.list { margin: 0; padding-left: 1.1em; }
.ok { color: #1b5e20; }
.bad { color: #b71c1c; font-weight: bold; }
a { color: inherit; }
footer { margin-top: 2em; padding-top: .4em; border-top: 1px solid #888; font-size: 8.5pt; color: #444; }
</style>
</head>
<body>
<header>
<h1>Restore drill evidence report</h1>
<dl class="info">
<dt>Log origin</dt><dd>{{.Origin}}</dd>
<dt>Records in the log</dt><dd>{{.LogSize}}</dd>
<dt>Selection</dt><dd>{{.Selection}}</dd>
<dt>Records in this report</dt><dd>{{.Records}}</dd>
<dt>Created</dt><dd>{{.Created}}</dd>
<dt>Latest checkpoint</dt><dd><pre class="checkpoint">{{.Checkpoint}}</pre></dd>
</dl>
</header>
<main>
<h2>Summary</h2>
{{- if not .Summary}}
<p>No records were selected.</p>
{{- else}}
<table class="summary">
<thead><tr><th>Service</th><th>Drill</th><th class="num">Records</th><th class="num">Pass</th><th class="num">Fail</th><th class="num">Error</th><th class="num">Interrupted</th><th>Last verdict</th><th>Last drill</th><th>Last pass</th><th class="num">Longest restore</th></tr></thead>
<tbody>
{{- range .Summary}}
<tr><td>{{.Service}}</td><td><a href="#{{.Anchor}}">{{.Drill}}</a></td><td class="num">{{.Records}}</td><td class="num">{{.Pass}}</td><td class="num">{{.Fail}}</td><td class="num">{{.Error}}</td><td class="num">{{.Interrupted}}</td><td><span class="v {{.LastVerdict.Class}}">{{.LastVerdict.Text}}</span></td><td class="nowrap">{{.LastDrill}}</td><td class="nowrap">{{.LastPass}}</td><td class="num">{{.LongestRestore}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}{{end}}
{{define "service"}}
<section class="service">
<h2>Service {{.Service}}</h2>{{end}}
{{define "drill"}}
<section class="drill" id="{{.Anchor}}">
<h3>Drill {{.Drill}}</h3>
<table class="records">
<thead><tr><th class="num">Log index</th><th>Started</th><th>Restore point</th><th>Verdict</th><th class="num">Restore time</th><th class="num">Backup age</th><th class="num">Files / size</th><th>Checks</th><th>Reasons</th></tr></thead>
<tbody>{{end}}
{{define "foot"}}
</main>
<footer>
<p>This report is a reading aid; the signed entries in entries.jsonl and <code>drill evidence verify</code> are the evidence.</p>
</footer>
</body>
</html>
{{end}}`

// CSVRecordAt returns the log index of the record whose row of the CSV
// report of recs holds byte offset off, or -1 (the header).
func CSVRecordAt(recs []*record.Record, off int) int64 {
	// Each row on its own: a field may hold a newline.
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(reportCSVHeader)
	w.Flush()
	for _, rec := range recs {
		_ = w.Write(csvRow(rec))
		w.Flush()
		if off < buf.Len() {
			return rec.LogIndex
		}
	}
	return -1
}

// HTMLRecordAt returns the log index of the record whose row of the HTML
// report page holds byte offset off, or -1 (a header, the summary).
func HTMLRecordAt(page []byte, off int) int64 {
	// The row <tr id="rec-N"> that holds off, if it is not closed
	// before off.
	const open = `<tr id="rec-`
	before := page[:min(off, len(page))]
	i := bytes.LastIndex(before, []byte(open))
	if i < 0 || bytes.Contains(before[i:], []byte("</tr>")) {
		return -1
	}
	num, _, _ := bytes.Cut(before[i+len(open):], []byte(`"`))
	if n, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return n
	}
	return -1
}
