package evidence

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

// randomRecords makes n records of a few drills and services, with random
// verdicts, sampling and finished times (not in log order).
func randomRecords(rng *rand.Rand, n int) []*record.Record {
	verdicts := []record.Verdict{record.VerdictPass, record.VerdictPass, record.VerdictFail, record.VerdictError, record.VerdictInterrupted}
	recs := make([]*record.Record, n)
	for i := range recs {
		r := testRecord(i, verdicts[rng.IntN(len(verdicts))])
		r.Drill = fmt.Sprintf("d%d", rng.IntN(4))
		r.Service = fmt.Sprintf("s%d", rng.IntN(3))
		r.Finished = testTime.Add(time.Duration(rng.IntN(1000)) * time.Minute).Add(time.Duration(rng.IntN(1e9)))
		r.Started = r.Finished.Add(-time.Minute)
		if rng.IntN(3) == 0 {
			r.Sample = &record.Sample{Seed: "s", Slices: 4, Slice: rng.IntN(4)}
		}
		recs[i] = r
	}
	return recs
}

// appendRandom appends recs to s, some one by one, some in batches.
func appendRandom(t *testing.T, rng *rand.Rand, s *Store, recs []*record.Record) {
	t.Helper()
	for i := 0; i < len(recs); {
		n := min(len(recs)-i, 1+rng.IntN(5))
		if _, err := s.AppendBatch(recs[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
}

// scanIndex is what the indexes must hold, from a full read of the log:
// per "drill:NAME" and "service:NAME", its entries newest first.
func scanIndex(t *testing.T, s *Store) map[string][]IndexEntry {
	t.Helper()
	want := map[string][]IndexEntry{}
	must(t, s.Entries(func(e *Entry) error {
		ie := IndexEntry{Index: e.Index, Verdict: e.Record.Verdict, Finished: e.Record.Finished.UTC(), Sampled: e.Record.Sample != nil}
		want["drill:"+e.Record.Drill] = append(want["drill:"+e.Record.Drill], ie)
		want["service:"+e.Record.Service] = append(want["service:"+e.Record.Service], ie)
		return nil
	}, true))
	return want
}

// readIndex is what the indexes hold for the names of want.
func readIndex(t *testing.T, s *Store, want map[string][]IndexEntry) map[string][]IndexEntry {
	t.Helper()
	got := map[string][]IndexEntry{}
	for key := range want {
		kind, name, _ := strings.Cut(key, ":")
		walk := s.DrillIndex
		if kind == "service" {
			walk = s.ServiceIndex
		}
		must(t, walk(name, func(e IndexEntry) bool { got[key] = append(got[key], e); return true }))
	}
	return got
}

func sameIndex(t *testing.T, when string, got, want map[string][]IndexEntry) {
	t.Helper()
	for key, w := range want {
		if !slices.EqualFunc(got[key], w, func(a, b IndexEntry) bool {
			return a.Index == b.Index && a.Verdict == b.Verdict && a.Finished.Equal(b.Finished) && a.Sampled == b.Sampled
		}) {
			t.Fatalf("%s: index of %s = %v\nwant %v", when, key, got[key], w)
		}
	}
}

// The indexes Append and AppendBatch keep agree with a full read of the
// log, on random logs; and History through them returns what a filtered
// full read does, with and without a limit.
func TestIndexAgreesWithScan(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 17))
		key := testKey(t, testOrigin)
		s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
		must(t, err)
		appendRandom(t, rng, s, randomRecords(rng, 20+rng.IntN(120)))
		want := scanIndex(t, s)
		sameIndex(t, fmt.Sprintf("seed %d", seed), readIndex(t, s, want), want)
		for _, f := range []HistoryFilter{{Drill: "d1"}, {Service: "s2"}, {Drill: "d0", Service: "s1"}, {Drill: "d2", Limit: 3}, {Limit: 7}, {}, {Drill: "none"}} {
			if got, want := historyOf(t, s, f), scanHistory(t, s, f); !slices.Equal(got, want) {
				t.Fatalf("seed %d: History(%+v) = %v, want %v", seed, f, got, want)
			}
		}
		must(t, s.Close())
	}
}

// historyOf is the log indexes History visits for f.
func historyOf(t *testing.T, s *Store, f HistoryFilter) []int64 {
	t.Helper()
	var out []int64
	must(t, s.History(f, func(e *Entry) error { out = append(out, e.Index); return nil }))
	return out
}

// scanHistory is what History must visit for f, from a full read.
func scanHistory(t *testing.T, s *Store, f HistoryFilter) []int64 {
	t.Helper()
	var out []int64
	must(t, s.Entries(func(e *Entry) error {
		if (f.Drill == "" || e.Record.Drill == f.Drill) && (f.Service == "" || e.Record.Service == f.Service) && (f.Limit == 0 || len(out) < f.Limit) {
			out = append(out, e.Index)
		}
		return nil
	}, true))
	return out
}

// A store written by an earlier version (no indexes), or appended to by
// one after the indexes were made (they lag behind), is read whole when
// opened read-only, and has its indexes brought up to date by a read-write
// open; a key change between records does not make them lag.
func TestIndexRebuilt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	key := testKey(t, testOrigin)
	path := filepath.Join(t.TempDir(), "drill.db")
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	must(t, err)
	appendRandom(t, rng, s, randomRecords(rng, 60))
	want := scanIndex(t, s)
	must(t, s.Close())
	oldVersion := func(tx *bbolt.Tx) error {
		must(t, tx.DeleteBucket(bucketByDrill))
		must(t, tx.DeleteBucket(bucketByService))
		return tx.Bucket(bucketMeta).Delete(metaIndexed)
	}
	lagging := func(tx *bbolt.Tx) error {
		// As if an earlier version appended records 50..59.
		for i := int64(50); i < 60; i++ {
			c := tx.Bucket(bucketByDrill).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if strings.HasSuffix(string(k), string(be64(uint64(i)))) {
					must(t, c.Delete())
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(metaIndexed, be64(50))
	}
	for name, damage := range map[string]func(*bbolt.Tx) error{"old version": oldVersion, "lagging": lagging} {
		rawUpdate(t, path, damage)
		ro, err := Open(path, Options{ReadOnly: true})
		must(t, err)
		if err := ro.DrillIndex("d1", func(IndexEntry) bool { return true }); !errors.Is(err, ErrNotIndexed) {
			t.Errorf("%s: read-only DrillIndex: %v, want ErrNotIndexed", name, err)
		}
		f := HistoryFilter{Drill: "d1", Limit: 5}
		if got, want := historyOf(t, ro, f), scanHistory(t, ro, f); !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%s: read-only History = %v, want %v", name, got, want)
		}
		must(t, ro.Close())
		s, err := Open(path, Options{Key: key})
		must(t, err)
		sameIndex(t, name+", reopened read-write", readIndex(t, s, want), want)
		_, err = s.Verify(t.Context())
		must(t, err)
		must(t, s.Close())
	}
	// A key change, then a record: the indexes still cover the log.
	next := rotateAndAppend(t, path, key, testRecord(99, record.VerdictFail))
	ro, err := Open(path, Options{ReadOnly: true, Key: next})
	must(t, err)
	defer ro.Close()
	if !ro.indexed {
		t.Fatal("after a key change and an append, a read-only open finds the indexes lagging")
	}
	var newest IndexEntry
	must(t, ro.DrillIndex("billing-db", func(e IndexEntry) bool { newest = e; return false }))
	if newest.Index != 61 || newest.Verdict != record.VerdictFail {
		t.Errorf("after a key change: newest billing-db entry %+v, want record 61, fail", newest)
	}
}

// Verify reports an index that disagrees with the records: an entry
// removed (which would hide a failing record from the position), a verdict
// changed, an entry added, the coverage mark pushed past the log.
func TestVerifyFlagsDoctoredIndex(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 6) // even pass, odd fail
	pass := indexValue(testRecord(4, record.VerdictPass))
	cases := map[string]struct {
		edit func(tx *bbolt.Tx) error
		want string
	}{
		"failing record's entry removed": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketByDrill).Delete(indexKey("billing-db", 5)) },
			"record 5: the drill index has no entry"},
		"fail turned into pass": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketByDrill).Put(indexKey("billing-db", 5), pass) },
			"record 5: the drill index entry of this record"},
		"service entry changed": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketByService).Put(indexKey("billing", 3), pass) },
			"record 3: the service index entry"},
		"entry added": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketByDrill).Put(indexKey("other", 2), pass) },
			"the drill index holds 7 entries, but the log has 6"},
		"mark past the log": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaIndexed, be64(9)) },
			"claim to cover 9 entries, but the log has 6"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "drill.db")
			copyFile(t, path, p)
			rawUpdate(t, p, c.edit)
			s, err := Open(p, Options{ReadOnly: true, Key: key})
			must(t, err)
			defer s.Close()
			_, err = s.Verify(t.Context())
			var ve *evlog.VerifyError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify = %v, want a VerifyError containing %q", err, c.want)
			}
		})
	}
}

// copyFile copies the closed store at from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, 0o600))
}

// readEntry, the fast parse of the reads, gives what parseEntry gives, for
// records, for a key change, and for leaves it leaves to parseEntry.
func TestReadEntryIsParseEntry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	key := testKey(t, testOrigin)
	s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	must(t, err)
	defer s.Close()
	appendRandom(t, rng, s, randomRecords(rng, 30))
	_, err = s.RotateKey(testKey(t, testOrigin))
	must(t, err)
	size, err := s.Size()
	must(t, err)
	idx := descending(size, int(size))
	leaves, err := s.readLeaves(idx)
	must(t, err)
	variants := [][]byte{[]byte(`{"payloadType":"` + "application/vnd.in-toto+json" + `","payload":"!!","signatures":[{}]}`), []byte("{}"), nil}
	for j, leaf := range append(leaves, variants...) {
		i := int64(j)
		if j < len(idx) {
			i = idx[j]
		}
		got, _, gerr := readEntry(i, leaf)
		want, werr := parseEntry(i, leaf)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("leaf %d: readEntry = %+v, %v; parseEntry = %+v, %v", i, got, gerr, want, werr)
		}
	}
}
