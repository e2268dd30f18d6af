package evidence

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/record"
)

// Verify checks the index entries against the records its signature check
// parsed, in both modes, also where that check runs again in log order:
// after a key change inside a chunk (the records were first checked with
// the key in force at the chunk's start) and past the first chunk.
func TestVerifyIndexAfterKeyChange(t *testing.T) {
	key := testKey(t, testOrigin)
	dir := t.TempDir()
	path := newLog(t, dir, testOrigin, key, 6) // records 0-5; the key change is entry 6
	var recs []*record.Record
	for i := 7; i < 10; i++ {
		recs = append(recs, testRecord(i, verdictFor(i)))
	}
	rotateAndAppend(t, path, key, recs...)
	verifyIndexCases(t, path, 8, "billing-db", "billing")
}

// TestVerifyIndexAcrossChunks is TestVerifyIndexAfterKeyChange past the
// first chunk.
func TestVerifyIndexAcrossChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("appends over a thousand records")
	}
	path := newLog(t, t.TempDir(), testOrigin, testKey(t, testOrigin), verifyChunk+100)
	verifyIndexCases(t, path, verifyChunk+37, "billing-db", "billing")
}

// verifyIndexCases verifies copies of the store at path, whose record at
// has the given drill and service, with that record's index entries
// doctored in turn, in both modes; and the store itself, which must pass.
func verifyIndexCases(t *testing.T, path string, at int64, drill, service string) {
	t.Helper()
	for _, opt := range verifyModes {
		s, err := Open(path, Options{ReadOnly: true})
		must(t, err)
		if _, err := s.VerifyWith(t.Context(), opt); err != nil {
			t.Errorf("Verify (%+v) of the untouched store: %v", opt, err)
		}
		must(t, s.Close())
	}
	flipped := func(b []byte) []byte {
		v := indexValue(testRecord(int(at), record.VerdictPass))
		if b[0] == v[0] {
			v = indexValue(testRecord(int(at), record.VerdictFail))
		}
		return v
	}
	cases := map[string]struct {
		edit func(tx *bbolt.Tx) error
		want string
	}{
		"drill entry removed": {func(tx *bbolt.Tx) error { return tx.Bucket(bucketByDrill).Delete(indexKey(drill, at)) },
			fmt.Sprintf("record %d: the drill index has no entry for this record of drill %q: it was altered", at, drill)},
		"service entry changed": {func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketByService)
			return b.Put(indexKey(service, at), flipped(b.Get(indexKey(service, at))))
		}, fmt.Sprintf("record %d: the service index entry of this record (service %q) does not match the record: it was altered", at, service)},
		"drill entry moved to another name": {func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketByDrill)
			v := append([]byte(nil), b.Get(indexKey(drill, at))...)
			if err := b.Delete(indexKey(drill, at)); err != nil {
				return err
			}
			return b.Put(indexKey("other", at), v)
		}, fmt.Sprintf("record %d: the drill index has no entry for this record of drill %q: it was altered", at, drill)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "drill.db")
			copyFile(t, path, p)
			rawUpdate(t, p, c.edit)
			s, err := Open(p, Options{ReadOnly: true})
			must(t, err)
			defer s.Close()
			for _, opt := range verifyModes {
				_, err := s.VerifyWith(t.Context(), opt)
				if got := fmt.Sprint(err); got != c.want {
					t.Errorf("Verify (%+v) = %v, want %s", opt, got, c.want)
				}
			}
		})
	}
}

// Verify pipelines its chunks: the next chunk's signatures are checked
// before the key changes of the previous one are followed. A key change
// near a chunk's end leaves the next chunk checked with the old key first;
// Verify must still pass in both modes, and report damage past it as
// thorough checks do.
func TestVerifyKeyChangeBeforeNextChunk(t *testing.T) {
	if testing.Short() {
		t.Skip("appends over a thousand records")
	}
	key := testKey(t, testOrigin)
	const before = verifyChunk - 4 // records 0..before-1; the key change is entry before
	path := newLog(t, t.TempDir(), testOrigin, key, before)
	var recs []*record.Record
	for i := before + 1; i < verifyChunk+60; i++ {
		recs = append(recs, testRecord(i, verdictFor(i)))
	}
	rotateAndAppend(t, path, key, recs...)
	verifyBoth(t, path, "<nil>")
	const bad = verifyChunk + 20
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeaves)
		return b.Put(be64(bad), flipSig(t, b.Get(be64(bad))))
	})
	verifyBoth(t, path, fmt.Sprintf("record %d: payload does not match its signature", bad))
}
