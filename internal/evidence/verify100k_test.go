package evidence

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// TestVerify100kFixture times Verify of a 100,000-record store and
// bundle kept in DRILL_VERIFY_100K_DIR, made on first use: a state_dir
// (drill.db, keys/) and bundle.tar.gz that the drill binary can verify
// too (config: state_dir DIR, log_origin drill.test/bk01), so that the
// figures can be compared across builds on the same data, in alternating
// runs. Both modes are timed, batch (the default) and thorough, or the
// one DRILL_VERIFY_100K_MODE names (batch or thorough).
func TestVerify100kFixture(t *testing.T) {
	dir := os.Getenv("DRILL_VERIFY_100K_DIR")
	if dir == "" {
		t.Skip("a measurement, not a test: set DRILL_VERIFY_100K_DIR to a directory")
	}
	key, err := keys.LoadOrCreate(filepath.Join(dir, "keys"), testOrigin)
	must(t, err)
	path := filepath.Join(dir, "drill.db")
	bundlePath := filepath.Join(dir, "bundle.tar.gz")
	if _, err := os.Stat(bundlePath); err != nil {
		makeFixture(t, path, bundlePath, key, 100_000)
	}
	s, err := Open(path, Options{Origin: testOrigin, Key: key, ReadOnly: true})
	must(t, err)
	defer s.Close()
	modes := map[string][]bool{"batch": {false}, "thorough": {true}}[os.Getenv("DRILL_VERIFY_100K_MODE")]
	if modes == nil {
		modes = []bool{false, true}
	}
	for _, thorough := range modes {
		start, cpu := time.Now(), cpuTime()
		rep, err := s.VerifyWith(context.Background(), VerifyOptions{Thorough: thorough})
		must(t, err)
		t.Logf("store verify (thorough=%t) of %d records: %v wall, %v CPU", thorough, rep.Records,
			time.Since(start).Round(time.Millisecond), (cpuTime() - cpu).Round(time.Millisecond))

		f, err := os.Open(bundlePath)
		must(t, err)
		start, cpu = time.Now(), cpuTime()
		brep, err := bundle.Verify(context.Background(), f, bundle.Options{Key: []byte(key.VerifierKey), Thorough: thorough})
		must(t, err)
		t.Logf("bundle verify (thorough=%t) of %d records: %v wall, %v CPU", thorough, brep.Records,
			time.Since(start).Round(time.Millisecond), (cpuTime() - cpu).Round(time.Millisecond))
		must(t, f.Close())
	}
}

// makeFixture appends n records to a new store at path in batches and
// exports them all to bundlePath.
func makeFixture(t *testing.T, path, bundlePath string, key *keys.Key, n int) {
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	must(t, err)
	defer s.Close()
	recs := make([]*record.Record, 0, 1000)
	for i := range n {
		if recs = append(recs, testRecord(i, verdictFor(i))); len(recs) == cap(recs) || i == n-1 {
			_, err := s.AppendBatch(recs)
			must(t, err)
			recs = recs[:0]
		}
	}
	f, err := os.Create(bundlePath + ".tmp")
	must(t, err)
	_, err = s.Export(f, bundle.Selection{}, time.Now())
	must(t, err)
	must(t, f.Close())
	must(t, os.Rename(bundlePath+".tmp", bundlePath))
}
