package evidence

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

const testOrigin = "drill.test/bk01"

var testTime = time.Date(2026, 8, 20, 3, 30, 0, 0, time.UTC)

func testKey(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := keys.LoadOrCreate(filepath.Join(t.TempDir(), "keys"), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// must stops the test at a failed step of its setup.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testRecord returns a realistic drill record; i makes it unique.
func testRecord(i int, verdict record.Verdict) *record.Record {
	started := testTime.Add(time.Duration(i) * time.Hour)
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

// verdictFor gives records alternating verdicts: even pass, odd fail.
func verdictFor(i int) record.Verdict {
	if i%2 == 1 {
		return record.VerdictFail
	}
	return record.VerdictPass
}

// newLog creates a store at dir/drill.db with n records and closes it.
func newLog(t testing.TB, dir, origin string, key *keys.Key, n int) string {
	t.Helper()
	path := filepath.Join(dir, "drill.db")
	s, err := Open(path, Options{Origin: origin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := s.Append(testRecord(i, verdictFor(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawUpdate edits a closed store's bbolt file directly.
func rawUpdate(t testing.TB, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// rawGet reads one value of a closed store's bbolt file.
func rawGet(t testing.TB, path string, bucket []byte, key []byte) []byte {
	t.Helper()
	var v []byte
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bucket).Get(key)...)
		return nil
	})
	return v
}

// rootsOf returns the tree roots of every prefix of leaves: roots[n] is
// the root of the first n leaves.
func rootsOf(t testing.TB, leaves [][]byte) []tlog.Hash {
	t.Helper()
	var m evlog.MemTree
	roots := []tlog.Hash{}
	for n := 0; ; n++ {
		r, err := tlog.TreeHash(int64(n), m)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, r)
		if n == len(leaves) {
			return roots
		}
		hs, err := tlog.StoredHashes(int64(n), leaves[n], m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
}
