package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

// The hostile strings of the report fixture: record fields are untrusted.
const (
	rptScript = `<script>alert(1)</script>`
	rptQuoted = `manifest differs, "orders.csv" changed`
	rptImg    = `<img src=x onerror=alert(2)>`
)

// rptCheckpoint is the checkpoint text of the report fixture.
const rptCheckpoint = "backup1/drill\n10\nq+Vz3/0aXb1dPm5YQ8c7mT2kP1sJH0x9hA4vUuWz6nE=\n"

// rptZone is not UTC, so that the reports must convert times.
var rptZone = time.FixedZone("CEST", 2*60*60)

// rptRecord returns a passing record of drill at log index i, started i
// hours after 2026-08-20 05:30 CEST (03:30 UTC).
func rptRecord(i int64, service, drill string) *record.Record {
	started := time.Date(2026, 8, 20, 5, 30, 0, 0, rptZone).Add(time.Duration(i) * time.Hour)
	// The durations, size and drill version of the log's test records.
	rec := logtest.Record(int(i), record.VerdictPass)
	rec.LogOrigin, rec.LogIndex = "backup1/drill", i
	rec.Drill, rec.Service, rec.Backend = drill, service, "tar"
	rec.RestorePoint = record.RestorePoint{
		ID:          fmt.Sprintf("%s-%03d.tar.zst", drill, i),
		Time:        started.Add(-3 * time.Hour),
		Description: "/backups/" + drill,
	}
	rec.Started, rec.Finished = started, started.Add(41*time.Minute)
	rec.Files, rec.ManifestSHA256, rec.Details = 1200, fmt.Sprintf("%064x", i), nil
	rec.Checks = []record.Check{
		{Name: "min_files", OK: true, Detail: "1200 files, want >= 1000"},
		{Name: "manifest", OK: true, Detail: "all files match"},
	}
	return rec
}

// rptRecords returns the report fixture in log order: two services, three
// drills; billing-db passes, passes again and then errors; shop-files
// fails once, with hostile reasons, and then passes.
func rptRecords() []*record.Record {
	r3 := rptRecord(3, "billing", "billing-db")
	r4 := rptRecord(4, "shop", "shop-files")
	r4.Verdict = record.VerdictFail
	r4.Checks[1] = record.Check{Name: "manifest", OK: false, Detail: "2 files differ " + rptImg}
	r4.Reasons = []string{rptScript, rptQuoted}
	r4.RPOSeconds, r4.RTOSeconds = 0, 0
	r5 := rptRecord(5, "billing", "billing-files")
	r6 := rptRecord(6, "shop", "shop-files")
	r6.RestoreSeconds = 3720
	r7 := rptRecord(7, "billing", "billing-db")
	r9 := rptRecord(9, "billing", "billing-db")
	r9.Verdict = record.VerdictError
	r9.Reasons = []string{"restore: tar exited with status 2"}
	r9.Checks = nil
	r9.RestoreSeconds = 45
	return []*record.Record{r3, r4, r5, r6, r7, r9}
}

func TestWriteReportCSV(t *testing.T) {
	recs := rptRecords()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, recs); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("read back the CSV report: %v\n%s", err, buf.String())
	}
	wantHeader := []string{
		"log_index", "service", "drill", "backend", "host", "verdict",
		"started", "finished", "restore_seconds", "backup_age_seconds",
		"rpo_seconds", "rto_seconds", "restore_point_id", "restore_point_time",
		"files", "bytes", "manifest_sha256", "checks", "reasons",
	}
	if got := rows[0]; strings.Join(got, ",") != strings.Join(wantHeader, ",") {
		t.Fatalf("header = %q, want %q", got, wantHeader)
	}
	if got, want := len(rows), len(recs)+1; got != want {
		t.Fatalf("got %d rows, want %d (header and one per record)", got, want)
	}
	col := make(map[string]int)
	for i, name := range rows[0] {
		col[name] = i
	}

	// Rows are in the order given.
	for i, rec := range recs {
		if got, want := rows[i+1][col["log_index"]], fmt.Sprint(rec.LogIndex); got != want {
			t.Errorf("row %d: log_index = %q, want %q", i+1, got, want)
		}
	}

	tests := []struct {
		row, field, want string
	}{
		{"4", "service", "shop"},
		{"4", "drill", "shop-files"},
		{"4", "verdict", "fail"},
		{"4", "started", "2026-08-20T07:30:00Z"},
		{"4", "finished", "2026-08-20T08:11:00Z"},
		{"4", "restore_point_time", "2026-08-20T04:30:00Z"},
		{"4", "restore_point_id", "shop-files-004.tar.zst"},
		{"4", "restore_seconds", "2460"},
		{"4", "backup_age_seconds", "10800"},
		{"4", "rpo_seconds", ""},
		{"4", "rto_seconds", ""},
		{"4", "files", "1200"},
		{"4", "bytes", "1073741824"},
		{"4", "checks", "min_files ok; manifest FAIL"},
		{"4", "reasons", rptScript + " | " + rptQuoted},
		{"3", "verdict", "pass"},
		{"3", "rpo_seconds", "86400"},
		{"3", "rto_seconds", "14400"},
		{"3", "checks", "min_files ok; manifest ok"},
		{"3", "reasons", ""},
		{"3", "manifest_sha256", fmt.Sprintf("%064x", 3)},
		{"9", "verdict", "error"},
		{"9", "checks", ""},
		{"9", "reasons", "restore: tar exited with status 2"},
	}
	byIndex := make(map[string][]string)
	for _, row := range rows[1:] {
		byIndex[row[col["log_index"]]] = row
	}
	for _, tt := range tests {
		row, ok := byIndex[tt.row]
		if !ok {
			t.Errorf("no row for log index %s", tt.row)
			continue
		}
		if got := row[col[tt.field]]; got != tt.want {
			t.Errorf("record %s: %s = %q, want %q", tt.row, tt.field, got, tt.want)
		}
	}

	// The reason with a comma and quotes round-trips as one field.
	got := strings.Split(byIndex["4"][col["reasons"]], " | ")
	if len(got) != 2 || got[1] != rptQuoted {
		t.Errorf("reasons of record 4 split into %q, want second %q", got, rptQuoted)
	}
}

func TestWriteReportHTML(t *testing.T) {
	info := Info{
		Origin:     "backup1/drill",
		LogSize:    10,
		Selection:  "all records",
		Created:    time.Date(2026, 8, 21, 10, 0, 0, 0, rptZone),
		Checkpoint: rptCheckpoint,
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, info, rptRecords()); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	page := buf.String()

	for _, want := range []string{
		"<h3>Drill billing-db</h3>",
		"<h3>Drill billing-files</h3>",
		"<h3>Drill shop-files</h3>",
		"<h2>Service billing</h2>",
		"<h2>Service shop</h2>",
		"<dd>backup1/drill</dd>",
		"<dd>10</dd>",
		"<dd>all records</dd>",
		"<dd>2026-08-21 08:00:00 UTC</dd>",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"manifest differs, &#34;orders.csv&#34; changed",
		`manifest <span class="bad">FAIL</span>: 2 files differ &lt;img src=x onerror=alert(2)&gt;`,
		`min_files <span class="ok">ok</span>: 1200 files, want &gt;= 1000`,
		"This report is a reading aid; the signed entries in entries.jsonl and <code>drill evidence verify</code> are the evidence.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The checkpoint is shown verbatim (html/template escapes "+").
	_, cp, _ := strings.Cut(page, `<pre class="checkpoint">`)
	cp, _, _ = strings.Cut(cp, "</pre>")
	if got := html.UnescapeString(cp); got != rptCheckpoint {
		t.Errorf("checkpoint shown as %q, want %q", got, rptCheckpoint)
	}
	// Nothing from the records is markup, and nothing is loaded or run.
	lower := strings.ToLower(page)
	for _, bad := range []string{rptScript, "<script", "<img", "<link", "<iframe", "url(", "@import", "http://", "https://"} {
		if strings.Contains(lower, strings.ToLower(bad)) {
			t.Errorf("report contains %q", bad)
		}
	}

	summary := []struct {
		drill string
		want  []string
	}{
		// service, drill, records, pass, fail, error, interrupted, last verdict, last drill, last pass, longest restore
		{"billing-db", []string{"billing", "billing-db", "3", "2", "0", "1", "0", "error", "2026-08-20 12:30 UTC", "2026-08-20 10:30 UTC", "41m00s"}},
		{"billing-files", []string{"billing", "billing-files", "1", "1", "0", "0", "0", "pass", "2026-08-20 08:30 UTC", "2026-08-20 08:30 UTC", "41m00s"}},
		{"shop-files", []string{"shop", "shop-files", "2", "1", "1", "0", "0", "pass", "2026-08-20 09:30 UTC", "2026-08-20 09:30 UTC", "1h02m"}},
	}
	for _, tt := range summary {
		got := rptSummaryRow(t, page, tt.drill)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("summary row of %s = %q, want %q", tt.drill, got, tt.want)
		}
	}

	// Sections sorted by service, then drill; records newest first.
	rptInOrder(t, page,
		`<table class="summary">`,
		"<h3>Drill billing-db</h3>", `id="rec-9"`, `id="rec-7"`, `id="rec-3"`,
		"<h3>Drill billing-files</h3>", `id="rec-5"`,
		"<h3>Drill shop-files</h3>", `id="rec-6"`, `id="rec-4"`,
		"<footer>")

	rows := []struct {
		index int64
		want  []string
	}{
		{4, []string{`<span class="v v-fail">fail</span>`, "2026-08-20 07:30 UTC", "<code>shop-files-004.tar.zst</code>", "2026-08-20 04:30 UTC", "3h00m", "41m00s"}},
		{9, []string{`<span class="v v-warn">error</span>`, "45s", "<li>restore: tar exited with status 2</li>"}},
		{3, []string{`<span class="v v-pass">pass</span>`, "RTO 4h00m", "RPO 1d00h", `title="1073741824 bytes">1.0 GiB`}},
	}
	for _, tt := range rows {
		row := rptRecordRow(t, page, tt.index)
		for _, want := range tt.want {
			if !strings.Contains(row, want) {
				t.Errorf("row of record %d lacks %q:\n%s", tt.index, want, row)
			}
		}
	}
}

func TestWriteReportHTMLNoRecords(t *testing.T) {
	var buf bytes.Buffer
	err := WriteHTML(&buf, Info{Origin: "backup1/drill", Selection: "service none", Checkpoint: "backup1/drill\n0\nx\n"}, nil)
	if err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	for _, want := range []string{"No records were selected.", "<dd>service none</dd>", "<dd>—</dd>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(buf.String(), "<h3>") {
		t.Errorf("report of no records has a drill section")
	}
}

// rptFailWriter fails every write.
type rptFailWriter struct{}

var errRptWrite = errors.New("disk full")

func (rptFailWriter) Write([]byte) (int, error) { return 0, errRptWrite }

func TestWriteReportErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func() error
		want  string
	}{
		{"CSV", func() error { return WriteCSV(rptFailWriter{}, rptRecords()) }, "write CSV report"},
		{"HTML", func() error { return WriteHTML(rptFailWriter{}, Info{}, rptRecords()) }, "write HTML report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if !errors.Is(err, errRptWrite) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want %q wrapping %v", err, tt.want, errRptWrite)
			}
		})
	}
	t.Run("nil record", func(t *testing.T) {
		recs := append(rptRecords(), nil)
		if err := WriteCSV(new(bytes.Buffer), recs); err == nil {
			t.Errorf("WriteCSV with a nil record: no error")
		}
		if err := WriteHTML(new(bytes.Buffer), Info{}, recs); err == nil {
			t.Errorf("WriteHTML with a nil record: no error")
		}
	})
}

func TestReportFormatSeconds(t *testing.T) {
	tests := []struct {
		seconds float64
		want    string
	}{
		{0, "0s"},
		{0.44, "0.4s"},
		{2.5, "2.5s"},
		{9.96, "10s"},
		{45, "45s"},
		{59.6, "1m00s"},
		{725, "12m05s"},
		{2460, "41m00s"},
		{3599.6, "1h00m"},
		{3720, "1h02m"},
		{86399, "1d00h"},
		{90000, "1d01h"},
		{277200, "3d05h"},
		{-45, "-45s"},
	}
	for _, tt := range tests {
		if got := formatSeconds(tt.seconds); got != tt.want {
			t.Errorf("formatSeconds(%v) = %q, want %q", tt.seconds, got, tt.want)
		}
	}
}

var (
	rptRowRE  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	rptCellRE = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	rptTagRE  = regexp.MustCompile(`<[^>]*>`)
)

// rptSummaryRow returns the text of the cells of drill's row in the
// summary table of page.
func rptSummaryRow(t *testing.T, page, drill string) []string {
	t.Helper()
	_, table, ok := strings.Cut(page, `<table class="summary">`)
	if !ok {
		t.Fatalf("report has no summary table")
	}
	table, _, _ = strings.Cut(table, "</table>")
	for _, row := range rptRowRE.FindAllStringSubmatch(table, -1) {
		if !strings.Contains(row[1], ">"+drill+"<") {
			continue
		}
		var cells []string
		for _, c := range rptCellRE.FindAllStringSubmatch(row[1], -1) {
			cells = append(cells, rptTagRE.ReplaceAllString(c[1], ""))
		}
		return cells
	}
	t.Fatalf("summary table has no row for drill %s:\n%s", drill, table)
	return nil
}

// rptRecordRow returns the markup of the row of record i in page.
func rptRecordRow(t *testing.T, page string, i int64) string {
	t.Helper()
	_, row, ok := strings.Cut(page, fmt.Sprintf(`<tr id="rec-%d">`, i))
	if !ok {
		t.Fatalf("report has no row for record %d", i)
	}
	row, _, _ = strings.Cut(row, "</tr>")
	return row
}

// rptInOrder checks that each of parts occurs in page, after the one before.
func rptInOrder(t *testing.T, page string, parts ...string) {
	t.Helper()
	at := 0
	for i, p := range parts {
		j := strings.Index(page[at:], p)
		if j < 0 {
			t.Errorf("report lacks %q after %q", p, parts[max(i-1, 0)])
			return
		}
		at += j + len(p)
	}
}

// Control characters in record fields reach neither report raw: a `cat`
// of report.csv or report.html cannot clear the screen or set the title.
func TestReportsEscapeControls(t *testing.T) {
	const hostile = "\x1b[2J\x1b]0;pwned\a\rfake \u009b31m\u202e"
	r := rptRecord(1, "billing"+hostile, "billing-db"+hostile)
	r.Verdict = record.VerdictFail
	r.Reasons = []string{"no restore point in " + hostile}
	r.RestorePoint.ID, r.RestorePoint.Description = hostile, hostile
	r.Checks[0].Detail = hostile
	var csvOut, htmlOut bytes.Buffer
	if err := WriteCSV(&csvOut, []*record.Record{r}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&htmlOut, Info{Origin: "backup1/drill", Selection: "service " + hostile, Checkpoint: rptCheckpoint}, []*record.Record{r}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"report.csv": csvOut.String(), "report.html": htmlOut.String()} {
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r >= 0x7f && r <= 0x9f || r == 0x202e }); i >= 0 {
			t.Errorf("%s holds a raw control character at byte %d: %q", name, i, out[max(0, i-20):min(len(out), i+20)])
		}
		if !strings.Contains(out, `\x1b[2J\x1b]0;pwned\x07\rfake \u009b31m\u202e`) {
			t.Errorf("%s does not show the escaped text", name)
		}
	}
}
