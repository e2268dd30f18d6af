package evidence

import (
	"bytes"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

// indexCheck checks, for Verify, that the record indexes agree with the
// records they cover: each record has its entry, with its verdict,
// finished time and sampling, under its drill and its service, and there
// is no other entry. A store without indexes passes (nothing reads them).
// The indexes are not signed: this is what keeps a doctored one from
// hiding a record from the position unnoticed.
//
// Verify feeds it each record in log order, as the record the signature
// check parsed (entry), so the records are parsed once for both checks.
type indexCheck struct {
	upTo           int64 // entries the indexes cover; -1: no indexes
	bad            bool  // the mark lies beyond the log: finish says so
	drill, service *bbolt.Bucket
	records        int    // records entry checked
	key            []byte // scratch: the key looked up
}

// newIndexCheck starts the index check of a log of size entries in tx.
func newIndexCheck(tx *bbolt.Tx, size int64) *indexCheck {
	x := &indexCheck{upTo: indexedUpTo(tx)}
	if x.upTo < 0 {
		return x
	}
	x.drill, x.service = tx.Bucket(bucketByDrill), tx.Bucket(bucketByService)
	if x.upTo > size {
		x.bad = true
	}
	return x
}

// entry checks the index entries of entry i, rec (nil for a key change),
// and must be called for each entry in log order.
func (x *indexCheck) entry(i int64, rec *record.Record) error {
	if x.upTo < 0 || x.bad || i >= x.upTo || rec == nil {
		return nil
	}
	x.records++
	want := indexValue(rec)
	if err := x.lookup(x.drill, "drill", rec.Drill, i, want); err != nil {
		return err
	}
	return x.lookup(x.service, "service", rec.Service, i, want)
}

// lookup checks record i's entry under name in index b.
func (x *indexCheck) lookup(b *bbolt.Bucket, kind, name string, i int64, want []byte) error {
	x.key = appendIndexKey(x.key[:0], name, i)
	got := b.Get(x.key)
	if got == nil {
		return evlog.RecordError(i, "the %s index has no entry for this record of %s %q: it was altered", kind, kind, name)
	}
	if !bytes.Equal(got, want) {
		return evlog.RecordError(i, "the %s index entry of this record (%s %q) does not match the record: it was altered", kind, kind, name)
	}
	return nil
}

// finish checks, after every entry of a log of size entries, what no
// single record shows: a mark beyond the log, and entries no record has.
func (x *indexCheck) finish(size int64) error {
	if x.upTo < 0 {
		return nil
	}
	if x.bad {
		return evlog.LogError("the record indexes claim to cover %d entries, but the log has %d", x.upTo, size)
	}
	for _, b := range []struct {
		name string
		b    *bbolt.Bucket
	}{{"drill", x.drill}, {"service", x.service}} {
		if n := b.b.Stats().KeyN; n != x.records {
			return evlog.LogError("the %s index holds %d entries, but the log has %d records for it to cover: it was altered", b.name, n, x.records)
		}
	}
	return nil
}
