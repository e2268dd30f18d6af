package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/report"
	"github.com/drillhq/drill/internal/textsafe"
)

// CheckReport rebuilds report member name from the verified records and
// compares it with the bundled bytes. The report is rendered into a
// comparing writer, so the usual case (identical) costs no second copy;
// on a difference it is rendered again to say where: the line, and the
// record when the line belongs to one. exported says whether the bundled
// report is the one the export statement names (its SHA-256 matches):
// then it was not changed after export, but rendered otherwise.
func CheckReport(name string, bundled []byte, exported bool, p *ExportPredicate, latest evlog.Checkpoint, recs []*record.Record) error {
	cw := &compareWriter{want: bundled, diff: -1}
	if err := writeReport(name, cw, p, latest, recs); err != nil {
		return fmt.Errorf("rebuild %s: %w", name, err)
	}
	off := cw.diff
	if off < 0 && cw.off != len(bundled) {
		off = cw.off // the bundled report goes on after the rebuilt one ends
	}
	if off < 0 {
		return nil
	}
	var rebuilt bytes.Buffer
	if err := writeReport(name, &rebuilt, p, latest, recs); err != nil {
		return fmt.Errorf("rebuild %s: %w", name, err)
	}
	line := 1 + bytes.Count(bundled[:off], []byte("\n"))
	where := ""
	if i := recordAt(name, rebuilt.Bytes(), off, recs); i >= 0 {
		where = fmt.Sprintf(" (record %d)", i)
	}
	why := "the report was changed after export"
	if exported {
		why = "it is the report that was exported, but it does not show the records: it was rendered by a drill that writes reports differently"
	}
	return bundleError("%s line %d%s differs from the report rebuilt from the verified entries: the bundle has %s where the entries give %s; %s",
		strings.TrimPrefix(name, Dir), line, where, excerpt(bundled, off), excerpt(rebuilt.Bytes(), off), why)
}

// compareWriter compares what is written to it with want and keeps the
// offset of the first byte that differs (or goes beyond want).
type compareWriter struct {
	want []byte
	off  int // bytes written so far
	diff int // first difference, -1 while none
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if c.diff < 0 {
		rest := c.want[c.off:]
		n := min(len(p), len(rest))
		for i := range n {
			if p[i] != rest[i] {
				c.diff = c.off + i
				break
			}
		}
		if c.diff < 0 && len(p) > len(rest) {
			c.diff = c.off + len(rest)
		}
	}
	c.off += len(p)
	return len(p), nil
}

var _ io.Writer = (*compareWriter)(nil)

// recordAt returns the log index of the record whose part of rebuilt
// report name holds offset off, or -1 (a header, the summary).
func recordAt(name string, rebuilt []byte, off int, recs []*record.Record) int64 {
	switch name {
	case MemberReportCSV:
		return report.CSVRecordAt(recs, off)
	case MemberReportHTML:
		return report.HTMLRecordAt(rebuilt, off)
	}
	return -1
}

// reportMembers are the reports of a bundle, in archive order.
var reportMembers = []string{MemberReportCSV, MemberReportHTML}

// writeReport renders report member name of a bundle: a function of the
// export statement's predicate, the latest checkpoint and the selected
// records alone, so that a verifier rebuilds it byte for byte.
func writeReport(name string, w io.Writer, p *ExportPredicate, latest evlog.Checkpoint, recs []*record.Record) error {
	info := report.Info{Origin: p.LogOrigin, LogSize: p.LogSize, Selection: p.Selection, Created: p.Created, Checkpoint: evlog.FormatCheckpoint(latest)}
	return renderReport(name, w, info, recs)
}

// renderReport renders report member name of the export info describes.
func renderReport(name string, w io.Writer, info report.Info, recs []*record.Record) error {
	switch name {
	case MemberReportCSV:
		return report.WriteCSV(w, recs)
	case MemberReportHTML:
		return report.WriteHTML(w, info, recs)
	}
	return fmt.Errorf("no report %s", name)
}

// rebuilder rebuilds the reports while the rest of the archive is read:
// each into SHA-256, described by manifest.json rather than the export
// statement, which comes last. The statement's check then compares the
// bundled reports' SHA-256 with these, and only a report that differs is
// rebuilt again from the statement, to compare byte for byte and say
// where. The two descriptions give the same report: the statement's
// check refuses a statement whose origin, size, selection and creation
// time are not manifest.json's before it compares the reports.
type rebuilder struct {
	sums   []string // by reportMembers; "" when not rebuilt
	done   chan struct{}
	cancel context.CancelFunc
}

// rebuildReports starts rebuilding the reports of the export m describes
// from recs, whose signatures and places were all verified, with latest
// the log's latest checkpoint.
func rebuildReports(ctx context.Context, m Manifest, latest evlog.Checkpoint, recs []*record.Record) *rebuilder {
	ctx, cancel := context.WithCancel(ctx)
	rb := &rebuilder{sums: make([]string, len(reportMembers)), done: make(chan struct{}), cancel: cancel}
	info := report.Info{Origin: m.Origin, LogSize: m.LogSize, Selection: m.Selection, Created: m.Created, Checkpoint: evlog.FormatCheckpoint(latest)}
	go func() {
		defer close(rb.done)
		evlog.Parallel(len(reportMembers), func(j int) {
			h := sha256.New()
			if renderReport(reportMembers[j], ctxWriter{ctx: ctx, w: h}, info, recs) == nil {
				rb.sums[j] = hex.EncodeToString(h.Sum(nil))
			}
		})
	}()
	return rb
}

// wait waits for the rebuilding to end and returns the reports' SHA-256
// by reportMembers; nil on a nil rebuilder.
func (rb *rebuilder) wait() []string {
	if rb == nil {
		return nil
	}
	<-rb.done
	return rb.sums
}

// stop stops the rebuilding and waits for it to end.
func (rb *rebuilder) stop() {
	if rb != nil {
		rb.cancel()
		<-rb.done
	}
}

// ctxWriter is w until ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// excerpt quotes up to 40 bytes either side of off in b, within its
// line, with control characters escaped.
func excerpt(b []byte, off int) string {
	if off >= len(b) {
		return "the end of the file"
	}
	start := max(0, off-40)
	if i := bytes.LastIndexByte(b[start:off], '\n'); i >= 0 {
		start += i + 1
	}
	end := min(len(b), off+40)
	if i := bytes.IndexByte(b[off:end], '\n'); i >= 0 {
		end = off + i
	}
	return `"` + textsafe.Escape(string(b[start:end])) + `"`
}
