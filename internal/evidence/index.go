package evidence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/record"
)

// The record indexes: per drill and per service, the log index of each of
// their records, with what the position needs to choose among them
// (verdict, finished time, whether it was sampled), so that the newest
// records of a drill are found without reading the log. Like points, they
// are derived from the records alone and unsigned: Append writes them in the
// same transaction as each record, a read-write Open brings them up to the
// log (a store written by an earlier version, or records appended by one),
// and Verify checks that they agree with the records.
var (
	bucketByDrill   = []byte("by_drill")
	bucketByService = []byte("by_service")
	// metaIndexed is, in meta, how many entries of the log the indexes
	// cover (8 bytes big-endian); the entries after it are not indexed.
	metaIndexed = []byte("indexed")
)

// ErrNotIndexed is returned by the index readers on a store whose indexes
// do not cover the log: one opened read-only after an earlier version
// appended to it. Read the records with Entries instead.
var ErrNotIndexed = errors.New("the evidence store's record indexes do not cover the log (open it read-write once to rebuild them)")

// IndexEntry is what the indexes keep of one record.
type IndexEntry struct {
	Index    int64
	Verdict  record.Verdict
	Finished time.Time
	// Sampled is set for a record of a sampled drill (Record.Sample).
	Sampled bool
}

// The verdicts as one byte in an index value; 0 is none of them.
var verdictCodes = []record.Verdict{"", record.VerdictPass, record.VerdictFail, record.VerdictError, record.VerdictInterrupted}

// indexValue encodes rec for the indexes: verdict code, flags (1:
// sampled), finished as Unix seconds (8 bytes) and nanoseconds (4 bytes).
func indexValue(rec *record.Record) []byte {
	v := make([]byte, 14)
	for i, vd := range verdictCodes {
		if vd == rec.Verdict && i > 0 {
			v[0] = byte(i)
		}
	}
	if rec.Sample != nil {
		v[1] = 1
	}
	binary.BigEndian.PutUint64(v[2:], uint64(rec.Finished.Unix()))
	binary.BigEndian.PutUint32(v[10:], uint32(rec.Finished.Nanosecond()))
	return v
}

// parseIndexEntry decodes key (name "\x00" be64(index)) and value v.
func parseIndexEntry(k, v []byte) (IndexEntry, error) {
	if len(k) < 9 || k[len(k)-9] != 0 || len(v) != 14 || v[0] == 0 || int(v[0]) >= len(verdictCodes) {
		return IndexEntry{}, fmt.Errorf("malformed index entry %q", k)
	}
	secs, nanos := int64(binary.BigEndian.Uint64(v[2:])), int64(binary.BigEndian.Uint32(v[10:]))
	return IndexEntry{
		Index:    int64(binary.BigEndian.Uint64(k[len(k)-8:])),
		Verdict:  verdictCodes[v[0]],
		Finished: time.Unix(secs, nanos).UTC(),
		Sampled:  v[1]&1 != 0,
	}, nil
}

// indexKey is name "\x00" be64(i): a name's keys sort by log index.
func indexKey(name string, i int64) []byte { return appendIndexKey(nil, name, i) }

// appendIndexKey appends indexKey(name, i) to dst.
func appendIndexKey(dst []byte, name string, i int64) []byte {
	return binary.BigEndian.AppendUint64(append(append(dst, name...), 0), uint64(i))
}

// noteIndex adds rec to the indexes in its append transaction, and moves
// their mark past it when they covered the log up to it. A store without
// indexes, or whose indexes lag behind, is left for a read-write Open to
// bring up to date.
func noteIndex(tx *bbolt.Tx, rec *record.Record) error {
	from := indexedUpTo(tx)
	if from < 0 {
		return nil
	}
	v := indexValue(rec)
	for _, ix := range []struct {
		bucket []byte
		name   string
	}{{bucketByDrill, rec.Drill}, {bucketByService, rec.Service}} {
		if err := tx.Bucket(ix.bucket).Put(indexKey(ix.name, rec.LogIndex), v); err != nil {
			return err
		}
	}
	if from != rec.LogIndex {
		// Entries since the mark: key changes only (RotateKey) moves it.
		if ok, err := onlyKeyChanges(tx, from, rec.LogIndex); err != nil || !ok {
			return nil //nolint:nilerr // the mark stays; Open brings the indexes up
		}
	}
	return tx.Bucket(bucketMeta).Put(metaIndexed, be64(uint64(rec.LogIndex+1)))
}

// onlyKeyChanges reports whether the log entries from..to-1 in tx are all
// key changes (none is a drill record).
func onlyKeyChanges(tx *bbolt.Tx, from, to int64) (bool, error) {
	if from < 0 || from > to {
		return false, nil
	}
	lb := tx.Bucket(bucketLeaves)
	for i := from; i < to; i++ {
		e, err := parseEntry(i, lb.Get(be64(uint64(i))))
		if err != nil {
			return false, err
		}
		if e.Record != nil {
			return false, nil
		}
	}
	return true, nil
}

// indexedUpTo returns how many entries of the log the indexes cover; -1
// when the store has none (written by an earlier version).
func indexedUpTo(tx *bbolt.Tx) int64 {
	v := tx.Bucket(bucketMeta).Get(metaIndexed)
	if len(v) != 8 || tx.Bucket(bucketByDrill) == nil || tx.Bucket(bucketByService) == nil {
		return -1
	}
	return int64(binary.BigEndian.Uint64(v))
}

// indexCovers reports whether the indexes cover the whole log in tx: they
// cover every entry, or the ones they miss are key changes.
func indexCovers(tx *bbolt.Tx) (bool, error) {
	size, err := storedSize(tx)
	if err != nil {
		return false, err
	}
	return onlyKeyChanges(tx, indexedUpTo(tx), size)
}

// bringIndexUp indexes, in a read-write transaction, the entries of the log
// the indexes do not cover yet; all of them on a store without indexes.
// The restore points of those entries are noted again too: an older binary
// that appended them kept neither.
func bringIndexUp(tx *bbolt.Tx) error {
	from := indexedUpTo(tx)
	size, err := storedSize(tx)
	if err != nil {
		return err
	}
	if from == size {
		return nil
	}
	if from < 0 || from > size {
		for _, name := range [][]byte{bucketByDrill, bucketByService} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(metaIndexed, be64(0)); err != nil {
			return err
		}
		from = 0
	}
	lb := tx.Bucket(bucketLeaves)
	pb, err := tx.CreateBucketIfNotExists(bucketPoints)
	if err != nil {
		return err
	}
	for i := from; i < size; i++ {
		e, err := parseEntry(i, lb.Get(be64(uint64(i))))
		if err != nil {
			return fmt.Errorf("index the records: %w", err)
		}
		if e.Record == nil {
			continue
		}
		e.Record.LogIndex = i // the index is where the leaf is, whatever it claims
		if err := noteIndex(tx, e.Record); err != nil {
			return err
		}
		// An earlier version may have appended without keeping the
		// restore points either; noting a record twice changes nothing.
		if err := notePoint(pb, e.Record); err != nil {
			return err
		}
		if err := noteSample(pb, e.Record); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(metaIndexed, be64(uint64(size)))
}

// walkIndex calls fn for the entries of name in bucket below log index
// below (-1: all), newest first, until fn returns false, in one read
// transaction.
func (s *Store) walkIndex(bucket []byte, name string, below int64, fn func(IndexEntry) bool) error {
	if !s.indexed {
		return ErrNotIndexed
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		prefix := []byte(name + "\x00")
		var v []byte
		k, _ := c.Seek(indexKey(name, below)) // be64 of -1 sorts after every index
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Prev() {
			e, err := parseIndexEntry(k, v)
			if err != nil {
				return fmt.Errorf("index %s: %w", bucket, err)
			}
			if !fn(e) {
				return nil
			}
		}
		return nil
	})
}

// DrillIndex calls fn for the records of drill, newest (highest log index)
// first, until fn returns false. fn runs inside a read transaction: it must
// not call other methods of s. It returns ErrNotIndexed when the indexes do
// not cover the log.
func (s *Store) DrillIndex(drill string, fn func(IndexEntry) bool) error {
	return s.walkIndex(bucketByDrill, drill, -1, fn)
}

// ServiceIndex is DrillIndex for the records of a service.
func (s *Store) ServiceIndex(service string, fn func(IndexEntry) bool) error {
	return s.walkIndex(bucketByService, service, -1, fn)
}

// Records returns the drill records at these log indexes, in their order,
// read in one transaction. An index that holds no drill record (a key
// change, or beyond the log) is an error naming it.
func (s *Store) Records(indexes []int64) ([]*record.Record, error) {
	leaves, err := s.readLeaves(indexes)
	if err != nil {
		return nil, err
	}
	entries, err := parseLeaves(indexes, leaves)
	if err != nil {
		return nil, err
	}
	recs := make([]*record.Record, len(entries))
	for j, e := range entries {
		if e.Record == nil {
			return nil, fmt.Errorf("record %d: is a key change, not a drill record", e.Index)
		}
		recs[j] = e.Record
	}
	return recs, nil
}

// indexUp brings the record indexes of a read-write store up to its log,
// when they lag behind (see bringIndexUp).
func (s *Store) indexUp() error {
	covered := false
	if err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		covered, err = indexCovers(tx)
		return err
	}); err != nil {
		// A leaf that does not parse: the log is damaged; open it anyway
		// (Verify says what is wrong), read whole.
		return nil //nolint:nilerr // the damage is Verify's to report
	}
	if covered {
		return nil
	}
	// A leaf that does not parse leaves the indexes as they were: the
	// store is then read whole, and Verify reports the damage.
	_ = s.db.Update(bringIndexUp)
	return nil
}

// Indexed reports whether the record indexes cover the log: DrillIndex,
// ServiceIndex and a filtered History read only what they select.
func (s *Store) Indexed() bool { return s.indexed }
