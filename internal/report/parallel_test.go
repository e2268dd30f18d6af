package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

// writeOrdered writes every row once, in order, whatever the number of
// parts, and stops at the writer's first error.
func TestWriteOrdered(t *testing.T) {
	for _, n := range []int{0, 1, rowsPerPart - 1, rowsPerPart, rowsPerPart + 1, 9*rowsPerPart + 7, 40 * rowsPerPart} {
		var want strings.Builder
		for i := range n {
			fmt.Fprintf(&want, "%d\n", i)
		}
		var got bytes.Buffer
		err := writeOrdered(&got, n, func(lo, hi int, b *bytes.Buffer) {
			for i := lo; i < hi; i++ {
				fmt.Fprintf(b, "%d\n", i)
			}
		})
		if err != nil || got.String() != want.String() {
			t.Errorf("n=%d: writeOrdered wrote %d bytes (%v), want %d", n, got.Len(), err, want.Len())
		}
	}
	boom := errors.New("disk full")
	writes := 0
	err := writeOrdered(failAfter{n: &writes, after: 3, err: boom}, 40*rowsPerPart, func(lo, hi int, b *bytes.Buffer) { b.WriteString("x") })
	if !errors.Is(err, boom) || writes != 4 {
		t.Errorf("a failing writer: err = %v after %d writes, want %v after 4", err, writes, boom)
	}
}

type failAfter struct {
	n     *int
	after int
	err   error
}

func (f failAfter) Write(p []byte) (int, error) {
	if *f.n++; *f.n > f.after {
		return 0, f.err
	}
	return len(p), nil
}

// A report of many records, rendered in parts on every core, is the one
// rendered row after row: the CSV against encoding/csv writing each row
// in turn, the HTML's rows in their drill's order.
func TestLargeReportsInOrder(t *testing.T) {
	var recs []*record.Record
	for i := range 7*rowsPerPart + 3 {
		r := logtest.Record(i, []record.Verdict{record.VerdictPass, record.VerdictFail}[i%2])
		r.LogIndex, r.Drill = int64(i), fmt.Sprintf("d%d", i%3)
		recs = append(recs, r)
	}
	var want bytes.Buffer
	cw := csv.NewWriter(&want)
	_ = cw.Write(reportCSVHeader)
	for _, r := range recs {
		_ = cw.Write(csvRow(r))
	}
	cw.Flush()
	var got bytes.Buffer
	if err := WriteCSV(&got, recs); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("WriteCSV of %d records: %d bytes (%v), row after row %d", len(recs), got.Len(), err, want.Len())
	}
	got.Reset()
	if err := WriteHTML(&got, Info{Origin: logtest.Origin, LogSize: int64(len(recs))}, recs); err != nil {
		t.Fatal(err)
	}
	html := got.String()
	for d := range 3 {
		last := strings.Index(html, fmt.Sprintf(`<section class="drill" id="drill-%d">`, d+1))
		for i := len(recs) - 1 - (len(recs)-1-d)%3; i >= 0; i -= 3 {
			var row bytes.Buffer
			writeRow(&row, newRecordRow(recs[i]))
			at := strings.Index(html[last:], row.String())
			if last < 0 || at < 0 {
				t.Fatalf("drill d%d: the row of record %d is not after the one before", d, i)
			}
			last += at + row.Len()
		}
	}
}
