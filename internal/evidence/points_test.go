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

// A store an older binary appended to (the record indexes and the restore
// points both left behind) has its points caught up on the next
// read-write open, with the indexes.
func TestNewestPointAfterOlderBinary(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 0)
	s, err := Open(path, Options{Key: key})
	must(t, err)
	add := func(i int, age time.Duration) {
		rec := testRecord(i, record.VerdictPass)
		rec.SourceSHA256 = "src1"
		rec.RestorePoint.Time = testTime.Add(-age)
		_, err := s.Append(rec)
		must(t, err)
	}
	add(0, 3*time.Hour)
	add(1, time.Hour)
	must(t, s.Close())
	before := rawGet(t, path, bucketPoints, pointKey("billing-db", "src1"))
	s, err = Open(path, Options{Key: key})
	must(t, err)
	add(2, time.Minute) // the newest, appended "by the older binary" below
	must(t, s.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		must(t, tx.Bucket(bucketPoints).Put(pointKey("billing-db", "src1"), before))
		return tx.Bucket(bucketMeta).Put(metaIndexed, be64(2))
	})
	s, err = Open(path, Options{Key: key})
	must(t, err)
	defer s.Close()
	if sp, ok, err := s.NewestPoint("billing-db", "src1"); err != nil || !ok || sp.LogIndex != 2 {
		t.Errorf("NewestPoint = %+v, %v, %v; want record 2's point", sp, ok, err)
	}
}
