package evidence

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// The runner's state (start markers, scratch resources, the restore point
// index) is kept beside the log as JSON values in buckets of their own,
// created on first use; none of it is signed.

// putJSON stores v as JSON at key in bucket; it is durable when putJSON
// returns.
func (s *Store) putJSON(bucket, key []byte, v any) error {
	if s.readOnly {
		return ErrReadOnly
	}
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put(key, val)
	})
}

// getJSON decodes the value at key in bucket into v and reports whether
// there is one.
func (s *Store) getJSON(bucket, key []byte, v any) (bool, error) {
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		val := b.Get(key)
		if val == nil {
			return nil
		}
		found = true
		return json.Unmarshal(val, v)
	})
	return found, err
}

// listJSON returns every value of bucket decoded as a T, ordered by when;
// what names a value in errors.
func listJSON[T any](s *Store, bucket []byte, what string, when func(T) time.Time) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("%s %q: %w", what, k, err)
			}
			out = append(out, x)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b T) int { return when(a).Compare(when(b)) })
	return out, err
}
