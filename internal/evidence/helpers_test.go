package evidence

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

const testOrigin = logtest.Origin

var (
	testTime   = logtest.Time
	testKey    = logtest.Key
	testRecord = logtest.Record
)

// must stops the test at a failed step of its setup.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
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

// rotateAndAppend rotates the log at path from key to a new key, appends
// recs with the new key, closes the store and returns the new key.
func rotateAndAppend(t testing.TB, path string, key *keys.Key, recs ...*record.Record) *keys.Key {
	t.Helper()
	s, err := Open(path, Options{Key: key})
	must(t, err)
	next := testKey(t, testOrigin)
	_, err = s.RotateKey(next)
	must(t, err)
	must(t, s.Close())
	s, err = Open(path, Options{Key: next})
	must(t, err)
	for _, r := range recs {
		_, err = s.Append(r)
		must(t, err)
	}
	must(t, s.Close())
	return next
}
