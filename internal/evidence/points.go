package evidence

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/record"
)

// bucketPoints indexes, per drill and source, the newest restore point any
// record of the log saw. It is derived from the records alone: Append keeps
// it in the same transaction as the record, and a store without it (made
// by an earlier version) has it rebuilt from its records on open.
var bucketPoints = []byte("points")

// SeenPoint is the newest restore point the records of one drill and
// source saw, and the record that saw it.
type SeenPoint struct {
	record.RestorePoint
	LogIndex int64 `json:"log_index"`
}

func pointKey(drill, source string) []byte { return []byte(drill + "\x00" + source) }

// sampleKey is where the index keeps, per drill and source, when each
// slice of the drill's sample last passed.
func sampleKey(drill, source string) []byte { return []byte(drill + "\x00" + source + "\x00sample") }

// slicePasses is the sample index's value: when each slice last passed,
// for one seed and number of slices.
type slicePasses struct {
	Seed   string      `json:"seed"`
	Passed []time.Time `json:"passed"`
}

// SlicePasses returns, for each of the slices of drill's sample with this
// seed and number of slices, when a record of the drill with source digest
// source last passed restoring it: the zero time for a slice no record
// passed. The sampled drill restores the slice least recently proven.
func (s *Store) SlicePasses(drill, source, seed string, slices int) ([]time.Time, error) {
	out := make([]time.Time, slices)
	var sp slicePasses
	found, err := s.getJSON(bucketPoints, sampleKey(drill, source), &sp)
	if err != nil {
		return nil, fmt.Errorf("read the sample slices drill %s passed: %w", drill, err)
	}
	if found && sp.Seed == seed && len(sp.Passed) == slices {
		copy(out, sp.Passed)
	}
	return out, nil
}

// noteSample records that rec, a passing sampled drill, proved its slice.
// A record with another seed or number of slices starts the index afresh.
func noteSample(b *bbolt.Bucket, rec *record.Record) error {
	sm := rec.Sample
	if rec.Verdict != record.VerdictPass || sm == nil || sm.Slices < 1 || sm.Slice < 0 || sm.Slice >= sm.Slices {
		return nil
	}
	k := sampleKey(rec.Drill, rec.SourceSHA256)
	var sp slicePasses
	if v := b.Get(k); v != nil {
		_ = json.Unmarshal(v, &sp) // a damaged value is rebuilt below
	}
	if sp.Seed != sm.Seed || len(sp.Passed) != sm.Slices {
		sp = slicePasses{Seed: sm.Seed, Passed: make([]time.Time, sm.Slices)}
	}
	if rec.Finished.After(sp.Passed[sm.Slice]) {
		sp.Passed[sm.Slice] = rec.Finished
	}
	v, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// NewestPoint returns the newest restore point that any record of drill
// with source digest source (Record.SourceSHA256) saw, and false when no
// record did. The vanished-snapshot rule compares it with what the backend
// lists now.
func (s *Store) NewestPoint(drill, source string) (SeenPoint, bool, error) {
	var sp SeenPoint
	found, err := s.getJSON(bucketPoints, pointKey(drill, source), &sp)
	if err != nil {
		return SeenPoint{}, false, fmt.Errorf("read the newest restore point of drill %s: %w", drill, err)
	}
	return sp, found, nil
}

// notePoint records rec's restore point in the index when it is newer than
// the one kept for its drill and source.
func notePoint(b *bbolt.Bucket, rec *record.Record) error {
	if rec.RestorePoint.ID == "" || rec.RestorePoint.Time.IsZero() {
		return nil
	}
	k := pointKey(rec.Drill, rec.SourceSHA256)
	if v := b.Get(k); v != nil {
		var old SeenPoint
		if json.Unmarshal(v, &old) == nil && !rec.RestorePoint.Time.After(old.Time) {
			return nil
		}
	}
	v, err := json.Marshal(SeenPoint{RestorePoint: rec.RestorePoint, LogIndex: rec.LogIndex})
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// rebuildPoints builds the index from every record of the log in tx.
func rebuildPoints(tx *bbolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketPoints)
	if err != nil {
		return err
	}
	c := tx.Bucket(bucketLeaves).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := parseEntry(int64(binary.BigEndian.Uint64(k)), v)
		if err != nil {
			return fmt.Errorf("index restore points: %w", err)
		}
		if e.Record == nil {
			continue
		}
		if err := notePoint(b, e.Record); err != nil {
			return err
		}
		if err := noteSample(b, e.Record); err != nil {
			return err
		}
	}
	return nil
}
