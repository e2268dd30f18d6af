package evidence

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// appendResult is what one concurrent Append or AppendBatch returned.
type appendResult struct {
	recs    []*record.Record
	entries []*Entry
	err     error
}

// queueWhileCommitting holds the store's commit slot, as a commit in
// progress would, starts one AppendBatch per element of batches, waits
// until every call is queued, runs meanwhile (if not nil), then lets them
// go and returns what each returned, in the order of batches.
func queueWhileCommitting(t *testing.T, s *Store, batches [][]*record.Record, meanwhile func()) []appendResult {
	t.Helper()
	s.leader <- struct{}{}
	out := make([]appendResult, len(batches))
	var wg sync.WaitGroup
	for i, recs := range batches {
		wg.Go(func() {
			entries, err := s.AppendBatch(recs)
			out[i] = appendResult{recs: recs, entries: entries, err: err}
		})
		waitQueued(t, s, i+1) // in order: the queue's order is the log's
	}
	if meanwhile != nil {
		meanwhile()
	}
	<-s.leader
	wg.Wait()
	return out
}

// waitQueued waits until n appends are queued behind the held leader.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.queued() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d appends queued after 10s", s.queued(), n)
		}
	}
}

// checkLanded checks that every successful result's entries are in the
// store at their index, with their envelope, and that the log verifies
// with want records.
func checkLanded(t *testing.T, s *Store, results []appendResult, want int64) {
	t.Helper()
	stored := map[int64][]byte{}
	if err := s.Entries(func(e *Entry) error { stored[e.Index] = e.Envelope; return nil }, false); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for j, e := range r.entries {
			if e.Record != r.recs[j] || e.Index != r.recs[j].LogIndex || !bytes.Equal(stored[e.Index], e.Envelope) {
				t.Errorf("record %s: entry index %d (record says %d) is not the stored entry", r.recs[j].Drill, e.Index, r.recs[j].LogIndex)
			}
		}
	}
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != want {
		t.Errorf("Verify: %d records, want %d", rep.Records, want)
	}
}

// Appends that queue while a commit is in progress share the next
// transaction: each caller gets its own entry, in one commit.
func TestGroupCommit(t *testing.T) {
	key := testKey(t, testOrigin)
	s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batches [][]*record.Record
	for i := range 32 {
		recs := []*record.Record{testRecord(i, verdictFor(i))}
		if i%8 == 0 { // some AppendBatch calls among the Appends
			recs = append(recs, testRecord(100+i, record.VerdictPass), testRecord(200+i, record.VerdictFail))
		}
		batches = append(batches, recs)
	}
	results := queueWhileCommitting(t, s, batches, nil)
	seen := map[int64]bool{}
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("append of %s: %v", r.recs[0].Drill, r.err)
		}
		for j, e := range r.entries {
			if seen[e.Index] || j > 0 && e.Index != r.entries[j-1].Index+1 {
				t.Errorf("record %s at index %d: taken twice, or its batch is not contiguous", r.recs[j].Drill, e.Index)
			}
			seen[e.Index] = true
		}
	}
	if got := s.commits.Load(); got != 1 {
		t.Errorf("%d commits for 32 queued appends, want 1", got)
	}
	checkLanded(t, s, results, 32+2*4)

	// Under plain contention, appends land in fewer commits than appends.
	before := s.commits.Load()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := s.Append(testRecord(1000+w*10+i, record.VerdictPass)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := s.commits.Load() - before; got >= 160 {
		t.Errorf("160 concurrent appends took %d commits, want fewer", got)
	}
	checkLanded(t, s, nil, 32+2*4+160)
}

// A record the log refuses fails its own call only; the calls queued
// with it are committed in their order, in one transaction.
func TestGroupCommitRefusesOne(t *testing.T) {
	key := testKey(t, testOrigin)
	s, err := Open(newLog(t, t.TempDir(), testOrigin, key, 3), Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tooLarge := testRecord(11, record.VerdictFail) // cannot be signed: larger than a leaf may be
	tooLarge.Reasons = []string{strings.Repeat("x", 1<<20)}
	longName := testRecord(12, record.VerdictPass) // signs, but cannot be indexed: bbolt's key limit
	longName.Drill = strings.Repeat("d", 40_000)
	batches := [][]*record.Record{
		{testRecord(10, record.VerdictPass)},
		{tooLarge},
		{longName},
		{testRecord(13, record.VerdictPass), testRecord(14, record.VerdictPass)},
	}
	results := queueWhileCommitting(t, s, batches, nil)
	for i, want := range []string{"", "more than the limit", "key too large", ""} {
		err := results[i].err
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("call %d: err = %v, want %q", i, err, want)
		}
	}
	if tooLarge.LogOrigin != "" || longName.LogOrigin != "" {
		t.Errorf("refused records were changed: placed at %q and %q", tooLarge.LogOrigin, longName.LogOrigin)
	}
	var got []int64
	for _, r := range results {
		for _, e := range r.entries {
			got = append(got, e.Index)
		}
	}
	if fmt.Sprint(got) != "[3 4 5]" {
		t.Errorf("indexes %v, want [3 4 5]", got)
	}
	if n := s.commits.Load(); n != 1 {
		t.Errorf("%d commits, want 1", n)
	}
	checkLanded(t, s, results, 6)
}

// A commit that fails fails every call in it and leaves the log as it was
// on disk; the log still opens, verifies and takes appends.
func TestGroupCommitFails(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 2)
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]*record.Record
	for i := range 5 {
		batches = append(batches, []*record.Record{testRecord(10+i, record.VerdictPass)})
	}
	closeDB := func() { must(t, s.db.Close()) } // the commit cannot happen
	for i, r := range queueWhileCommitting(t, s, batches, closeDB) {
		if r.err == nil || !strings.Contains(r.err.Error(), "database not open") {
			t.Errorf("append %d on a closed database: err = %v", i, r.err)
		}
	}
	s, err = Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(testRecord(20, record.VerdictPass)); err != nil {
		t.Fatal(err)
	}
	checkLanded(t, s, nil, 3)
}

// queued is how many appends wait for a commit.
func (s *Store) queued() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.pending)
}
