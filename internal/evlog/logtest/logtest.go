// Package logtest holds the fixtures of the tests of the evidence log's
// packages (envelope, evlog, bundle, report, evidence): a log origin, a
// clock reading, a signing key, realistic drill records.
package logtest

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Origin is the test log's origin.
const Origin = "drill.test/bk01"

// Time is when the first test record started.
var Time = time.Date(2026, 8, 20, 3, 30, 0, 0, time.UTC)

// Key creates a signing key named name in a temporary directory of t.
func Key(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := keys.LoadOrCreate(filepath.Join(t.TempDir(), "keys"), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Record returns a realistic drill record, started i hours after Time; i
// makes it unique.
func Record(i int, verdict record.Verdict) *record.Record {
	started := Time.Add(time.Duration(i) * time.Hour)
	rec := &record.Record{
		Drill:   "billing-db",
		Service: "billing",
		Backend: "postgres",
		Host:    "bk01",
		Verdict: verdict,
		RestorePoint: record.RestorePoint{
			ID:          fmt.Sprintf("billing-%06d.dump", i),
			Time:        started.Add(-3 * time.Hour),
			Description: "/backups/pg/billing <nightly> & weekly",
		},
		Started:          started,
		Finished:         started.Add(41 * time.Minute),
		RestoreSeconds:   2460,
		BackupAgeSeconds: 10800,
		RPOSeconds:       86400,
		RTOSeconds:       14400,
		Files:            1,
		Bytes:            1 << 30,
		ManifestSHA256:   fmt.Sprintf("%064x", i+1),
		Checks: []record.Check{
			{Name: "tables", OK: true, Detail: "invoices present"},
			{Name: "min_rows", OK: verdict == record.VerdictPass, Detail: "invoices: 1523 rows, want >= 1000"},
		},
		Details:      map[string]string{"pg_restore": "17.2", "server": "PostgreSQL 17.2"},
		DrillVersion: "0.0.0-test",
	}
	if verdict != record.VerdictPass {
		rec.Reasons = []string{"check min_rows: invoices has 12 rows, want >= 1000"}
	}
	return rec
}

// Variety is records with every optional field set or not, and strings
// and numbers the canonical decoders (envelope.DecodeCanonicalRecord) must
// refuse or pass on.
func Variety() []*record.Record {
	var out []*record.Record
	add := func(edit func(r *record.Record)) {
		r := Record(len(out), []record.Verdict{record.VerdictPass, record.VerdictFail}[len(out)%2])
		r.RestorePoint.Description = "/backups/pg/billing nightly" // Record's has '<' and '&'
		edit(r)
		out = append(out, r)
	}
	add(func(*record.Record) {})
	add(func(r *record.Record) { r.Reasons, r.Checks = nil, nil })
	add(func(r *record.Record) { r.Reasons, r.Checks = []string{}, []record.Check{} })
	add(func(r *record.Record) {
		r.SourceSHA256, r.RestorePoint.Description = "abc", "snap of host"
		r.RPOSeconds, r.RTOSeconds = 86400, 0.5
		r.Tables = []record.Table{{Name: "t1", Rows: 3, Fingerprint: "f"}, {Name: "t2", Rows: 0}}
		r.Sample = &record.Sample{Percent: 10, Seed: "s", Slice: 2, Slices: 10, Depth: 2, TotalFiles: 5, TotalBytes: 9}
		r.Details = map[string]string{"b": "2", "a": "1", "c": ""}
	})
	add(func(r *record.Record) { r.Sample = &record.Sample{} })
	add(func(r *record.Record) { r.Reasons = []string{"a <b> & c"} })
	add(func(r *record.Record) { r.Reasons = []string{"tab\there"} })
	add(func(r *record.Record) { r.Reasons = []string{"é \u202e"} })
	add(func(r *record.Record) { r.Reasons = []string{`back\slash "quoted"`} })
	add(func(r *record.Record) { r.Drill = "bad\xff" })
	add(func(r *record.Record) { r.RestoreSeconds, r.BackupAgeSeconds = 1e-7, 1e21 })
	add(func(r *record.Record) { r.RestoreSeconds, r.BackupAgeSeconds = 123.456, math.Copysign(0, -1) })
	add(func(r *record.Record) { r.RPOSeconds = math.Copysign(0, -1) })
	add(func(r *record.Record) { r.Files, r.Bytes, r.LogIndex = -1, math.MaxInt64, 0 })
	add(func(r *record.Record) {
		r.Started = r.Started.In(time.FixedZone("x", 3600+1800))
		r.Finished = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		r.RestorePoint.Time = time.Time{}
	})
	add(func(r *record.Record) { r.Details = map[string]string{} })
	add(func(r *record.Record) { r.Tables = []record.Table{} })
	return out
}

// PlainCanon reports whether a record's JSON b is what the canonical
// decoders must take: every string printable ASCII without '"', '\', '<', '>', '&'.
func PlainCanon(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
