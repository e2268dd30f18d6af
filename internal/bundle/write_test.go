package bundle

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

const testOrigin = logtest.Origin

var testTime = logtest.Time

// memLog is a log of n records kept in memory as the store keeps it on
// disk: the leaves, the stored hashes and a signed checkpoint per size.
type memLog struct {
	key    *keys.Key
	leaves [][]byte
	recs   []*record.Record
	tree   evlog.MemTree
	cps    [][]byte // cps[n] is the checkpoint of size n
}

func newMemLog(t *testing.T, n int) *memLog {
	t.Helper()
	key := logtest.Key(t, testOrigin)
	l := &memLog{key: key}
	l.sign(t, evlog.EmptyRoot())
	for i := range n {
		rec := logtest.Record(i, record.VerdictPass)
		rec.LogOrigin, rec.LogIndex = testOrigin, int64(i)
		leaf, err := envelope.SignStatement(envelope.NewStatement(rec), key)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), leaf, l.tree)
		if err != nil {
			t.Fatal(err)
		}
		l.tree = append(l.tree, hs...)
		root, err := tlog.TreeHash(int64(i)+1, l.tree)
		if err != nil {
			t.Fatal(err)
		}
		l.leaves, l.recs = append(l.leaves, leaf), append(l.recs, rec)
		l.sign(t, root)
	}
	return l
}

func (l *memLog) sign(t *testing.T, root tlog.Hash) {
	cp, err := evlog.SignCheckpoint(evlog.Checkpoint{Origin: testOrigin, Size: int64(len(l.cps)), Root: root}, l.key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	l.cps = append(l.cps, cp)
}

// contents collects a bundle of the records sel selects, as the store does.
func (l *memLog) contents(t *testing.T, sel Selection) *Contents {
	n := int64(len(l.leaves))
	head, err := evlog.OpenCheckpoint(l.cps[n], l.key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	c := &Contents{Origin: testOrigin, Size: n, Latest: l.cps[n], Head: head, Selection: sel,
		Keys: []Key{{Key: l.key.VerifierKey, From: 0}}}
	for i, rec := range l.recs {
		if sel.Match(rec) {
			c.Entries = append(c.Entries, Entry{Index: int64(i), Leaf: l.leaves[i], Record: rec})
			if !sel.All() {
				c.History = append(c.History, HistoryLine{Size: int64(i) + 1, Note: string(l.cps[i+1])})
			}
		}
	}
	if sel.All() {
		for size, cp := range l.cps {
			c.History = append(c.History, HistoryLine{Size: int64(size), Note: string(cp)})
		}
		return c
	}
	for i := range n {
		c.LeafHashes = append(c.LeafHashes, l.tree[tlog.StoredHashIndex(0, i)])
	}
	for _, e := range c.Entries {
		p, err := tlog.ProveRecord(n, e.Index, l.tree)
		if err != nil {
			t.Fatal(err)
		}
		c.Proofs = append(c.Proofs, ProofLine{Index: &e.Index, Inclusion: p})
	}
	for _, h := range c.History {
		if h.Size < n {
			p, err := tlog.ProveTree(n, h.Size, l.tree)
			if err != nil {
				t.Fatal(err)
			}
			c.Proofs = append(c.Proofs, ProofLine{Size: &h.Size, Consistency: p})
		}
	}
	return c
}

// TestWriteVerify writes complete and subset bundles of a log kept in
// memory, without the evidence store, and verifies them offline; a bundle
// with one entry changed is refused.
func TestWriteVerify(t *testing.T) {
	l := newMemLog(t, 12)
	for _, tc := range []struct {
		name    string
		sel     Selection
		records int64
	}{
		{"complete", Selection{}, 12},
		{"subset", Selection{Since: testTime.Add(3 * time.Hour), Until: testTime.Add(7 * time.Hour)}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			sum, err := Write(&buf, l.contents(t, tc.sel), l.key, testTime.Add(24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Manifest.Records != tc.records || sum.Manifest.Complete != tc.sel.All() || !bytes.Equal(sum.Checkpoint, l.cps[12]) {
				t.Errorf("Write: manifest %+v, checkpoint %q", sum.Manifest, sum.Checkpoint)
			}
			rep, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), Options{Key: []byte(l.key.VerifierKey), Previous: l.cps[2]})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != tc.records || int64(len(rep.Entries)) != tc.records || rep.Previous != 2 || len(rep.Reports) != 2 {
				t.Errorf("Verify: %d records, %d entries, previous %d, reports %v", rep.Records, len(rep.Entries), rep.Previous, rep.Reports)
			}

			// One record changed after it was logged, signed again with
			// the log's key: the tree no longer matches its checkpoints.
			c := l.contents(t, tc.sel)
			rec := *c.Entries[1].Record
			rec.Verdict = record.VerdictFail
			if c.Entries[1].Leaf, err = envelope.SignStatement(envelope.NewStatement(&rec), l.key); err != nil {
				t.Fatal(err)
			}
			c.Entries[1].Record = &rec
			buf.Reset()
			if _, err := Write(&buf, c, l.key, testTime.Add(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			_, err = Verify(context.Background(), &buf, Options{Key: []byte(l.key.VerifierKey)})
			want := map[bool]string{true: "checkpoint ", false: "it was changed after it was logged"}[tc.sel.All()]
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Verify of a bundle with a record changed: err = %v, want %q", err, want)
			}
		})
	}
}
