package evidence

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/evlog"
)

// TestProofsCrossChecked checks what a bundle claims with an independent
// implementation of RFC 6962, github.com/transparency-dev/merkle: the
// roots of the latest and historical checkpoints recomputed from the
// leaves, every inclusion proof and every consistency proof.
func TestProofsCrossChecked(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 37)
	b, _ := exportBundle(t, path, key, bundle.Selection{Since: testTime.Add(5 * 3600e9), Until: testTime.Add(30 * 3600e9)})
	var man bundle.Manifest
	var hashes []byte
	var latest evlog.Checkpoint
	hist := map[int64]evlog.Checkpoint{}
	var proofs []bundle.ProofLine
	entries := map[int64][]byte{}
	verifier := note.VerifierList(key.Verifier)
	for _, m := range unpack(t, b) {
		switch strings.TrimPrefix(m.name, bundle.Dir) {
		case "manifest.json":
			must(t, json.Unmarshal(m.data, &man))
		case "hashes":
			hashes = m.data
		case "checkpoint":
			latest = mustOpenCheckpoint(t, m.data, key)
		case "checkpoints.jsonl":
			for _, l := range bytes.Split(bytes.TrimSpace(m.data), []byte("\n")) {
				var h bundle.HistoryLine
				must(t, json.Unmarshal(l, &h))
				n, err := note.Open([]byte(h.Note), verifier)
				if err != nil {
					t.Fatal(err)
				}
				c, _ := evlog.ParseCheckpoint(n.Text)
				hist[h.Size] = c
			}
		case "proofs.jsonl":
			for _, l := range bytes.Split(bytes.TrimSpace(m.data), []byte("\n")) {
				var p bundle.ProofLine
				if err := json.Unmarshal(l, &p); err != nil {
					t.Fatal(err)
				}
				proofs = append(proofs, p)
			}
		case "entries.jsonl":
			for _, l := range bytes.Split(bytes.TrimSpace(m.data), []byte("\n")) {
				e, err := bundle.ParseEntryLine(l)
				if err != nil {
					t.Fatal(err)
				}
				entries[e.Index] = e.Envelope
			}
		}
	}
	if man.LogSize != 37 || len(entries) != 25 || len(proofs) == 0 {
		t.Fatalf("bundle: %+v, %d entries, %d proofs", man, len(entries), len(proofs))
	}
	h := rfc6962.DefaultHasher
	// Roots from the leaf hashes, independently.
	rf := &compact.RangeFactory{Hash: h.HashChildren}
	r := rf.NewEmptyRange(0)
	roots := map[uint64][]byte{}
	for i := range uint64(man.LogSize) {
		leaf := hashes[32*i : 32*i+32]
		if env, ok := entries[int64(i)]; ok && !bytes.Equal(h.HashLeaf(env), leaf) {
			t.Errorf("record %d: leaf hash differs from RFC 6962's", i)
		}
		if err := r.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
		root, err := r.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		roots[i+1] = root
	}
	if !bytes.Equal(roots[uint64(man.LogSize)], latest.Root[:]) {
		t.Fatal("the latest checkpoint's root differs from RFC 6962's")
	}
	for size, c := range hist {
		if !bytes.Equal(roots[uint64(size)], c.Root[:]) {
			t.Errorf("checkpoint %d: root differs from RFC 6962's", size)
		}
	}
	raw := func(ps []tlog.Hash) [][]byte {
		out := make([][]byte, len(ps))
		for i := range ps {
			out[i] = ps[i][:]
		}
		return out
	}
	n := uint64(man.LogSize)
	for _, p := range proofs {
		switch {
		case p.Index != nil:
			i := uint64(*p.Index)
			if err := proof.VerifyInclusion(h, i, n, h.HashLeaf(entries[*p.Index]), raw(p.Inclusion), latest.Root[:]); err != nil {
				t.Errorf("inclusion proof of record %d: %v", i, err)
			}
		case p.Size != nil:
			m := uint64(*p.Size)
			if err := proof.VerifyConsistency(h, m, n, raw(p.Consistency), roots[m], latest.Root[:]); err != nil {
				t.Errorf("consistency proof %d to %d: %v", m, n, err)
			}
		}
	}
}
