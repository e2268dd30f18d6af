package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"go.etcd.io/bbolt"
)

// HistoryFilter selects records for History: a drill's, a service's (when
// not ""), at most Limit of them (when > 0).
type HistoryFilter struct {
	Drill, Service string
	Limit          int
}

// historyPage is how many records History reads per read transaction.
const historyPage = 512

// History calls fn for each drill record f selects, newest first, until fn
// returns an error, which History then returns as it is. With a drill or a
// service it reads only their records, through the indexes (a store whose
// indexes do not cover the log is read whole, as Entries does). Each page of
// records is read in its own read transaction and parsed in parallel; fn
// runs outside any transaction, so it may call other methods of s.
func (s *Store) History(f HistoryFilter, fn func(*Entry) error) error {
	return s.HistoryJSON(f, func(e *Entry, _ []byte) error { return fn(e) })
}

// HistoryJSON is History, with each record's JSON when the log holds it
// as json.Marshal writes it and with no string textsafe.Escape would
// change (see envelope.DecodeCanonicalRecord): js is then what json.Marshal
// writes for the record, escaped or not, and can be written out as it
// is. It is nil for any other record. js is only valid during fn.
func (s *Store) HistoryJSON(f HistoryFilter, fn func(e *Entry, js []byte) error) error {
	name, bucket := f.Drill, bucketByDrill
	if f.Drill == "" {
		name, bucket = f.Service, bucketByService
	}
	n := 0
	visit := func(e *Entry, js []byte) error {
		if e.Record == nil || f.Drill != "" && e.Record.Drill != f.Drill || f.Service != "" && e.Record.Service != f.Service {
			return nil
		}
		if f.Limit > 0 && n >= f.Limit {
			return errEnough
		}
		n++
		return fn(e, js)
	}
	size, err := s.Size()
	if err != nil {
		return err
	}
	// A page is no bigger than what the limit leaves to visit (and at
	// least a small one, when the filter skips records).
	page := func() int {
		if f.Limit > 0 {
			return min(historyPage, max(f.Limit-n, 16))
		}
		return historyPage
	}
	if f.Drill == "" && f.Service == "" || !s.indexed {
		err = s.pages(size, func(below int64) []int64 { return descending(below, page()) }, visit)
	} else {
		err = s.pages(size, func(below int64) []int64 { return s.indexPage(bucket, name, below, page()) }, visit)
	}
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// errEnough ends a walk early.
var errEnough = errors.New("enough")

// descending is up to n log indexes below end, newest first.
func descending(end int64, n int) []int64 {
	var out []int64
	for i := end - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, i)
	}
	return out
}

// indexPage is the next page of name's log indexes in bucket below below,
// newest first, at most n. An index that cannot be read ends the walk: the records
// it would have listed are missing, which Verify reports.
func (s *Store) indexPage(bucket []byte, name string, below int64, n int) []int64 {
	var out []int64
	_ = s.walkIndex(bucket, name, below, func(e IndexEntry) bool {
		out = append(out, e.Index)
		return len(out) < n
	})
	return out
}

// pages visits the entries below size, page by page, as next gives them
// (log indexes below its argument, newest first; none when done): each
// page is read in one read transaction, parsed in parallel, and fn called
// for its entries in order, outside the transaction.
func (s *Store) pages(size int64, next func(below int64) []int64, fn func(*Entry, []byte) error) error {
	for below := size; ; {
		idx := next(below)
		if len(idx) == 0 {
			return nil
		}
		leaves, err := s.readLeaves(idx)
		if err != nil {
			return err
		}
		entries, js, err := parseLeavesJSON(idx, leaves)
		if err != nil {
			return err
		}
		for j, e := range entries {
			if err := fn(e, js[j]); err != nil {
				return err
			}
		}
		below = idx[len(idx)-1]
	}
}

// readLeaves reads the leaves at log indexes idx in one read transaction,
// with a cursor: a leaf just before the one read (History's pages) is
// the cursor's previous, not a search from the root.
func (s *Store) readLeaves(idx []int64) ([][]byte, error) {
	leaves := make([][]byte, len(idx))
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketLeaves).Cursor()
		var k, v []byte
		for j, i := range idx {
			key := be64(uint64(i))
			if j > 0 && i == idx[j-1]-1 {
				k, v = c.Prev()
			} else {
				k, v = c.Seek(key)
			}
			if !bytes.Equal(k, key) || v == nil {
				return fmt.Errorf("record %d: missing from the evidence store", i)
			}
			leaves[j] = bytes.Clone(v)
		}
		return nil
	})
	return leaves, err
}

// parseLeaves parses leaves (at log indexes idx) on every CPU; the first
// error in their order is returned.
func parseLeaves(idx []int64, leaves [][]byte) ([]*Entry, error) {
	out, _, err := parseLeavesJSON(idx, leaves)
	return out, err
}

// parseLeavesJSON is parseLeaves, with the records' JSON when readEntry
// has it.
func parseLeavesJSON(idx []int64, leaves [][]byte) ([]*Entry, [][]byte, error) {
	out := make([]*Entry, len(leaves))
	js := make([][]byte, len(leaves))
	errs := make([]error, len(leaves))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(leaves)/32))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(leaves); j += workers {
				out[j], js[j], errs[j] = readEntry(idx[j], leaves[j])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return out, js, nil
}
