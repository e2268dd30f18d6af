package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// readLog opens the store at path read-only, verifies it and returns its
// records oldest first.
func readLog(t *testing.T, path string) []*record.Record {
	t.Helper()
	s, err := evidence.Open(path, evidence.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Origin != origin {
		t.Errorf("origin %q, want %q", rep.Origin, origin)
	}
	var recs []*record.Record
	err = s.Entries(func(e *evidence.Entry) error {
		recs = append(recs, e.Record)
		return nil
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestGen makes a log as bench.sh does (in two runs, so that the second
// continues the first), then checks that it verifies and that its records
// are the drills and services bench.sh's configs name, with passes, fails
// and errors in order, newest at the time of the run.
func TestGen(t *testing.T) {
	state := t.TempDir()
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	g := gen{drills: 12, services: 4}
	if err := g.run(state, 1500, now); err != nil {
		t.Fatal(err)
	}
	if err := g.run(state, 60, now); err != nil {
		t.Fatal(err)
	}
	if err := openState(state); err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, filepath.Join(state, "drill.db"))
	if len(recs) != 1560 {
		t.Fatalf("%d records, want 1560", len(recs))
	}
	verdicts := map[record.Verdict]int{}
	for i, r := range recs {
		verdicts[r.Verdict]++
		if r.LogIndex != int64(i) {
			t.Fatalf("record %d has log_index %d", i, r.LogIndex)
		}
		if want := drillName(i % 12); r.Drill != want {
			t.Fatalf("record %d is of drill %s, want %s", i, r.Drill, want)
		}
		if want := g.serviceName(i % 12); r.Service != want {
			t.Fatalf("record %d is of service %s, want %s", i, r.Service, want)
		}
		if r.Verdict != record.VerdictPass && len(r.Reasons) == 0 {
			t.Fatalf("record %d: verdict %s without a reason", i, r.Verdict)
		}
		if r.Verdict != record.VerdictError && (r.Files == 0 || len(r.Checks) != 7 || r.RestorePoint.ID == "") {
			t.Fatalf("record %d: %d files, %d checks, restore point %q", i, r.Files, len(r.Checks), r.RestorePoint.ID)
		}
	}
	if got := recs[len(recs)-1].Started; !got.Equal(now.Add(-spacing)) {
		t.Errorf("newest record started %v, want %v", got, now.Add(-spacing))
	}
	want := map[record.Verdict]int{record.VerdictPass: 1404, record.VerdictFail: 104, record.VerdictError: 52} // fail: i%10 == 9 but not i%30 == 29
	for v, n := range want {
		if verdicts[v] != n {
			t.Errorf("%d records %s, want %d (all: %v)", verdicts[v], v, n, verdicts)
		}
	}
}

// TestAppendEach appends from several goroutines, as the concurrent
// variant of the append row does, and refuses to reuse a log.
func TestAppendEach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drill.db")
	if err := appendEach(path, 90, 3); err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, path)
	if len(recs) != 90 {
		t.Fatalf("%d records, want 90", len(recs))
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Drill]++
	}
	if len(seen) != 12 {
		t.Errorf("records of %d drills, want 12: %v", len(seen), seen)
	}
	if err := appendEach(path, 1, 1); err == nil {
		t.Error("append to an existing log: no error")
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"gen"}, {"gen", "-state", t.TempDir(), "-drills", "0"}, {"append", "-n", "1"}} {
		if err := run(args); err == nil {
			t.Errorf("evbench %q: no error", args)
		}
	}
}
