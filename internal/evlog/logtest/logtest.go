// Package logtest holds the fixtures of the tests of the evidence log's
// packages (envelope, evlog, bundle, report, evidence): a log origin, a
// clock reading, a signing key, realistic drill records.
package logtest

import (
	"fmt"
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
