package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/evlog"
)

// Export writes a bundle of the records sel selects, as of the latest
// signed checkpoint, to w. What the bundle holds is collected in one read
// transaction, so records appended meanwhile are not in it; the bundle is
// written (bundle.Write) after the transaction ends.
func (s *Store) Export(w io.Writer, sel bundle.Selection, now time.Time) (*bundle.Summary, error) {
	if s.key == nil || s.key.Private == nil {
		return nil, errors.New("export evidence: the export statement is signed with the log's private key, and the store was opened without it (export through the agent, or as the user that can read state_dir/keys/drill.key)")
	}
	if s.keyErr != nil {
		return nil, fmt.Errorf("export evidence: %w", s.keyErr)
	}
	var c *bundle.Contents
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		c, err = s.collect(tx, sel)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export evidence: %w", err)
	}
	sum, err := bundle.Write(w, c, s.key, now)
	if err != nil {
		return nil, fmt.Errorf("export evidence: %w", err)
	}
	return sum, nil
}

// collect reads what the bundle of the records sel selects holds, as of
// the latest signed checkpoint in tx. Values are copied out of tx.
func (s *Store) collect(tx *bbolt.Tx, sel bundle.Selection) (*bundle.Contents, error) {
	n, err := storedSize(tx)
	if err != nil {
		return nil, err
	}
	cps := tx.Bucket(bucketCheckpoints)
	latest := cps.Get(be64(uint64(n)))
	if latest == nil {
		return nil, fmt.Errorf("no signed checkpoint of size %d: run drill evidence verify", n)
	}
	head, err := evlog.OpenCheckpoint(latest, s.verifier)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	c := &bundle.Contents{Origin: s.origin, Size: n, Latest: bytes.Clone(latest), Head: head, Selection: sel}
	if err := s.collectEntries(tx, c); err != nil {
		return nil, err
	}
	// Historical checkpoints: all of them, or the one signed right after
	// each selected entry.
	addHist := func(size int64) error {
		cp := cps.Get(be64(uint64(size)))
		if cp == nil {
			return fmt.Errorf("checkpoint %d is missing: run drill evidence verify", size)
		}
		c.History = append(c.History, bundle.HistoryLine{Size: size, Note: string(cp)})
		return nil
	}
	if sel.All() {
		for size := int64(0); size <= n; size++ {
			if err := addHist(size); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	for _, e := range c.Entries {
		if err := addHist(e.Index + 1); err != nil {
			return nil, err
		}
	}
	return c, collectProofs(txHashReader(tx), c)
}

// collectEntries selects the entries of c's bundle, with the log's key
// chain; key changes always go in, so that the verifier can follow the
// keys.
func (s *Store) collectEntries(tx *bbolt.Tx, c *bundle.Contents) error {
	first := s.vkey
	if v := tx.Bucket(bucketMeta).Get(metaVKey0); v != nil {
		first = string(v)
	}
	c.Keys = []bundle.Key{{Key: first, From: 0}}
	leaves := tx.Bucket(bucketLeaves)
	for i := int64(0); i < c.Size; i++ {
		leaf := leaves.Get(be64(uint64(i)))
		if leaf == nil {
			return fmt.Errorf("record %d is missing: run drill evidence verify", i)
		}
		e, err := parseEntry(i, leaf)
		if err != nil {
			return err
		}
		if e.KeyChange != nil {
			c.Keys = append(c.Keys, bundle.Key{Key: e.KeyChange.NewKey, From: i + 1})
		} else if !c.Selection.Match(e.Record) {
			continue
		}
		c.Entries = append(c.Entries, bundle.Entry{Index: i, Leaf: bytes.Clone(leaf), Record: e.Record})
	}
	if last := c.Keys[len(c.Keys)-1].Key; last != s.key.VerifierKey {
		return fmt.Errorf("the signing key %s is not the log's key in force (%s)", s.key.VerifierKey, last)
	}
	return nil
}

// collectProofs reads a subset bundle's leaf hashes of the whole log and
// proves each entry and each historical checkpoint against the latest.
func collectProofs(hr tlog.HashReader, c *bundle.Contents) error {
	n := c.Size
	at := make([]int64, n)
	for i := range at {
		at[i] = tlog.StoredHashIndex(0, int64(i))
	}
	var err error
	if c.LeafHashes, err = hr.ReadHashes(at); err != nil {
		return err
	}
	for _, e := range c.Entries {
		p, err := tlog.ProveRecord(n, e.Index, hr)
		if err != nil {
			return fmt.Errorf("prove record %d: %w", e.Index, err)
		}
		c.Proofs = append(c.Proofs, bundle.ProofLine{Index: &e.Index, Inclusion: p})
	}
	for _, h := range c.History {
		if h.Size == 0 || h.Size == n {
			continue
		}
		p, err := tlog.ProveTree(n, h.Size, hr)
		if err != nil {
			return fmt.Errorf("prove checkpoint %d: %w", h.Size, err)
		}
		c.Proofs = append(c.Proofs, bundle.ProofLine{Size: &h.Size, Consistency: p})
	}
	return nil
}
