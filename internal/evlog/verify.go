package evlog

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/record"
)

// VerifyError is the first problem a verification found, in a store or
// in a bundle.
type VerifyError struct {
	// Index is the record the problem is about or, for a checkpoint whose
	// root does not match, the first record that differs; -1 if none.
	Index int64
	// Checkpoint is the size of the checkpoint the problem is about; -1 if
	// it is not about a checkpoint.
	Checkpoint int64
	// Msg says what is wrong.
	Msg string
}

// Error returns "record 17: Msg", "checkpoint 18: Msg" or Msg.
func (e *VerifyError) Error() string {
	switch {
	case e.Checkpoint >= 0:
		return fmt.Sprintf("checkpoint %d: %s", e.Checkpoint, e.Msg)
	case e.Index >= 0:
		return fmt.Sprintf("record %d: %s", e.Index, e.Msg)
	default:
		return e.Msg
	}
}

// RecordError is a problem with record i.
func RecordError(i int64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: i, Checkpoint: -1, Msg: fmt.Sprintf(format, args...)}
}

// CheckpointError is a problem with the checkpoint of the given size,
// first seen at record (-1 if none).
func CheckpointError(size, record int64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: record, Checkpoint: size, Msg: fmt.Sprintf(format, args...)}
}

// LogError is a problem with the log as a whole, about no one record or
// checkpoint.
func LogError(format string, args ...any) *VerifyError {
	return &VerifyError{Index: -1, Checkpoint: -1, Msg: fmt.Sprintf(format, args...)}
}

// CheckLeaf checks entry i of the log origin: its envelope, its signature
// by key and its place in the log. It returns the entry's record, or its
// key change if it is one.
func CheckLeaf(origin string, i int64, leaf []byte, key LogKey) (*record.Record, *envelope.KeyChange, *VerifyError) {
	if leaf == nil {
		return nil, nil, RecordError(i, "missing")
	}
	env, err := envelope.Decode(leaf)
	if err != nil {
		return nil, nil, RecordError(i, "%v", err)
	}
	st, kc, err := env.VerifyAny(key.Pub)
	if err != nil {
		return nil, nil, RecordError(i, "%v", err)
	}
	return leafPlace(origin, i, st, kc)
}

// leafPlace checks that entry i, whose signature verified, is a key
// change or a record of log origin at index i.
func leafPlace(origin string, i int64, st *envelope.Statement, kc *envelope.KeyChange) (*record.Record, *envelope.KeyChange, *VerifyError) {
	if kc != nil {
		return nil, kc, nil
	}
	if got := st.Predicate.LogOrigin; got != origin {
		return nil, nil, RecordError(i, "log_origin is %q, want %q (a record of another log)", got, origin)
	}
	if got := st.Predicate.LogIndex; got != i {
		return nil, nil, RecordError(i, "log_index is %d (a record moved or copied from elsewhere)", got)
	}
	return st.Predicate, nil, nil
}

// MemTree is a tree rebuilt in memory, in stored-hash order
// (tlog.StoredHashIndex): the tlog.HashReader of a verification.
type MemTree []tlog.Hash

// ReadHashes returns the hashes at indexes, all of which must have been
// computed already.
func (m MemTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d is not computed yet", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

var _ tlog.HashReader = MemTree(nil)

// Parallel calls fn(0..n-1) on GOMAXPROCS goroutines: verifications
// check signatures, nearly all their work, side by side.
func Parallel(n int, fn func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				j := int(next.Add(1) - 1)
				if j >= n {
					return
				}
				fn(j)
			}
		})
	}
	wg.Wait()
}
