package evlog_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

// TestCheckAll: in batch mode, checks leave signatures to the batch and
// only the entries and checkpoints whose signature is bad are checked
// again, thoroughly, with the thorough mode's error; in thorough mode
// nothing is left to a batch.
func TestCheckAll(t *testing.T) {
	key := logtest.Key(t, logtest.Origin)
	lk, err := evlog.NewLogKey(key.VerifierKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n, badLeaf, badCP = 600, 77, 431
	leaves := make([][]byte, n)
	cps := make([][]byte, n)
	for i := range n {
		rec := logtest.Record(i, record.VerdictPass)
		rec.LogOrigin, rec.LogIndex = logtest.Origin, int64(i)
		if leaves[i], err = envelope.SignStatement(envelope.NewStatement(rec), key); err != nil {
			t.Fatal(err)
		}
		if cps[i], err = evlog.SignCheckpoint(evlog.Checkpoint{Origin: logtest.Origin, Size: int64(i + 1)}, key.Signer); err != nil {
			t.Fatal(err)
		}
	}
	leaves[badLeaf] = flip(leaves[badLeaf], []byte(`"sig":"`))
	cps[badCP] = flip(cps[badCP], []byte("— "+logtest.Origin+" "))
	chain := &evlog.KeyChain{Origin: logtest.Origin, Keys: []evlog.LogKey{lk}}

	for _, thorough := range []bool{false, true} {
		var mu sync.Mutex
		var again []int
		errs := make([]string, n)
		evlog.CheckAll(n, thorough, func(j int, sigs *evlog.Sigs) {
			if sigs == nil && !thorough {
				mu.Lock()
				again = append(again, j)
				mu.Unlock()
			}
			_, _, verr := evlog.CheckLeafDeferred(logtest.Origin, int64(j), leaves[j], lk, sigs)
			_, err := chain.OpenCheckpointDeferred(int64(j+1), cps[j], sigs)
			errs[j] = fmt.Sprint(verr, " ", err)
		})
		slices.Sort(again)
		if !thorough && !slices.Equal(again, []int{badLeaf, badCP}) {
			t.Errorf("batch: checked again %v, want only %d and %d", again, badLeaf, badCP)
		}
		for j, e := range errs {
			want := "<nil> <nil>"
			switch j {
			case badLeaf:
				want = "record 77: payload does not match its signature <nil>"
			case badCP:
				want = "<nil> signature by the log key " + logtest.Origin + " does not verify"
			}
			if e != want {
				t.Errorf("thorough=%t: entry %d: %q, want %q", thorough, j, e, want)
			}
		}
	}
}

// flip changes the base64 character 8 places after the end of mark.
func flip(b, mark []byte) []byte {
	out := slices.Clone(b)
	i := bytes.Index(out, mark) + len(mark) + 8
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}
