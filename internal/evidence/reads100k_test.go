package evidence_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// reads100k: 12 drills of 4 services, every drill every 5 minutes.
const reads100kDrills, reads100kServices = 12, 4

// TestReads100k measures the reads of `drill position`, `drill history` and
// `drill list` over a log of 100,000 records, through the record indexes
// and by the full read they replace. It runs only when
// DRILL_EVIDENCE_100K=reads; with DRILL_EVIDENCE_100K_DIR=DIR the store is
// kept at DIR/state/drill.db with DIR/drill.yaml, a config naming its
// drills, to time the commands themselves (drill -c DIR/drill.yaml ...);
// DRILL_EVIDENCE_100K_RECORDS=N writes N records instead of 100,000.
func TestReads100k(t *testing.T) {
	if os.Getenv("DRILL_EVIDENCE_100K") != "reads" {
		t.Skip("a measurement, not a test: set DRILL_EVIDENCE_100K=reads to read a log of 100,000 records")
	}
	dir := os.Getenv("DRILL_EVIDENCE_100K_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := write100k(t, dir)
	path := filepath.Join(dir, "state", "drill.db")
	at := time.Now()
	q := drills.PositionQueryFor(cfg, at)
	var indexed, scanned []byte
	timed(t, "position through the index", path, func(s *evidence.Store) error {
		recs, err := q.Records(s)
		indexed, _ = json.Marshal(drills.Position(cfg, recs, at))
		return err
	})
	timed(t, "position from a full read", path, func(s *evidence.Store) error {
		var recs []*record.Record
		err := s.Entries(func(e *evidence.Entry) error { recs = append(recs, e.Record); return nil }, false)
		scanned, _ = json.Marshal(drills.Position(cfg, recs, at))
		return err
	})
	if string(indexed) != string(scanned) {
		t.Errorf("the position through the index differs from the one from every record")
	}
	enc := json.NewEncoder(io.Discard)
	for _, f := range []evidence.HistoryFilter{{Limit: 20}, {}, {Drill: "d03", Limit: 20}, {Service: "s1"}} {
		timed(t, fmt.Sprintf("history %+v, JSON", f), path, func(s *evidence.Store) error {
			return s.History(f, func(e *evidence.Entry) error { return enc.Encode(e.Record.Escaped()) })
		})
	}
	timed(t, "history, JSON, by Entries (before)", path, func(s *evidence.Store) error {
		return s.Entries(func(e *evidence.Entry) error { return enc.Encode(e.Record.Escaped()) }, true)
	})
	timed(t, "list: each drill's newest record", path, func(s *evidence.Store) error {
		for _, n := range cfg.DrillNames() {
			if err := s.History(evidence.HistoryFilter{Drill: n, Limit: 1}, func(*evidence.Entry) error { return nil }); err != nil {
				return err
			}
		}
		return nil
	})
}

// timed opens the store read-only, runs fn on it and logs how long both
// took.
func timed(t *testing.T, what, path string, fn func(*evidence.Store) error) {
	t.Helper()
	start := time.Now()
	s, err := evidence.Open(path, evidence.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := fn(s); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%-50s %8.3f s", what, time.Since(start).Seconds())
}

// write100k writes, unless it is there, a store of 100,000 records at
// dir/state/drill.db, and the config of its drills at dir/drill.yaml.
func write100k(t *testing.T, dir string) *config.Config {
	t.Helper()
	var y strings.Builder
	fmt.Fprintf(&y, "state_dir: %s\nlog_origin: %s\nservices:\n", filepath.Join(dir, "state"), logtest.Origin)
	for s := range reads100kServices {
		fmt.Fprintf(&y, "  s%d: {owner: ops@example.org, priority: %d, review_every: 7d}\n", s, 1+s%2)
	}
	y.WriteString("drills:\n")
	for d := range reads100kDrills {
		fmt.Fprintf(&y, "  d%02d: {service: s%d, backend: filesystem, source: {archive: /nonexistent.tar.gz}}\n", d, d%reads100kServices)
	}
	if err := os.WriteFile(filepath.Join(dir, "drill.yaml"), []byte(y.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "drill.yaml"), []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state", "drill.db")
	if _, err := os.Stat(path); err == nil {
		return cfg
	}
	key, err := keys.LoadOrCreate(filepath.Join(dir, "state", "keys"), logtest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := evidence.Open(path, evidence.Options{Origin: logtest.Origin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("DRILL_EVIDENCE_100K_RECORDS")); err == nil && v > 0 {
		n = v
	}
	start := time.Now().Add(-time.Duration(n) * 5 * time.Minute / reads100kDrills)
	batch := make([]*record.Record, 0, 1000)
	for i := range n {
		verdict := record.VerdictPass
		if i%23 == 0 {
			verdict = record.VerdictFail
		}
		r := logtest.Record(i, verdict)
		r.Drill, r.Service = fmt.Sprintf("d%02d", i%reads100kDrills), fmt.Sprintf("s%d", i%reads100kDrills%reads100kServices)
		r.Started = start.Add(time.Duration(i) * 5 * time.Minute / reads100kDrills)
		r.Finished = r.Started.Add(time.Minute)
		if batch = append(batch, r); len(batch) == cap(batch) || i == n-1 {
			if _, err := s.AppendBatch(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return cfg
}

// BenchmarkHistoryJSON100k is `drill history --json` over the log of
// TestReads100k (DRILL_EVIDENCE_100K_DIR must hold it): every record read,
// parsed and written as JSON.
func BenchmarkHistoryJSON100k(b *testing.B) {
	dir := os.Getenv("DRILL_EVIDENCE_100K_DIR")
	if dir == "" {
		b.Skip("set DRILL_EVIDENCE_100K_DIR to a directory TestReads100k wrote")
	}
	s, err := evidence.Open(filepath.Join(dir, "state", "drill.db"), evidence.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	enc := json.NewEncoder(io.Discard)
	for b.Loop() {
		if err := s.History(evidence.HistoryFilter{}, func(e *evidence.Entry) error { return enc.Encode(e.Record.Escaped()) }); err != nil {
			b.Fatal(err)
		}
	}
}
