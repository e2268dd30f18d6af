package evidence

import (
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/record"
)

// NewestPoint keeps, per drill and source, the newest restore point any
// record saw, whatever order records arrive in, and a store that lost its
// index rebuilds it from the records.
func TestNewestPoint(t *testing.T) {
	key := testKey(t, testOrigin)
	dir := t.TempDir()
	path := newLog(t, dir, testOrigin, key, 0)
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.NewestPoint("billing-db", "src1"); ok || err != nil {
		t.Fatalf("empty log: NewestPoint = %v, %v; want nothing", ok, err)
	}
	add := func(i int, source string, age time.Duration) {
		rec := testRecord(i, record.VerdictPass)
		rec.SourceSHA256 = source
		rec.RestorePoint.Time = testTime.Add(-age)
		if _, err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	add(0, "src1", 3*time.Hour)
	add(1, "src1", time.Hour) // the newest for src1
	add(2, "src1", 5*time.Hour)
	add(3, "src2", 9*time.Hour)
	noPoint := testRecord(4, record.VerdictError)
	noPoint.SourceSHA256, noPoint.RestorePoint = "src1", record.RestorePoint{}
	if _, err := s.Append(noPoint); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		sp, ok, err := s.NewestPoint("billing-db", "src1")
		if err != nil || !ok || sp.ID != "billing-000001.dump" || sp.LogIndex != 1 || !sp.Time.Equal(testTime.Add(-time.Hour)) {
			t.Errorf("%s: NewestPoint(src1) = %+v, %v, %v; want record 1's point", when, sp, ok, err)
		}
		sp, ok, _ = s.NewestPoint("billing-db", "src2")
		if !ok || sp.LogIndex != 3 {
			t.Errorf("%s: NewestPoint(src2) = %+v, %v; want record 3's point", when, sp, ok)
		}
		if _, ok, _ := s.NewestPoint("other", "src1"); ok {
			t.Errorf("%s: NewestPoint of another drill found a point", when)
		}
	}
	check("after appends")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketPoints) })
	if s, err = Open(path, Options{Key: key}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("after rebuilding the index")
}
