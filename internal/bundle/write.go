package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Contents is what a bundle holds, as collected from the log under one
// read transaction, as of its latest signed checkpoint.
type Contents struct {
	Origin string
	// Size is the size N of the log; Latest its signed checkpoint, whose
	// body is Head.
	Size   int64
	Latest []byte
	Head   evlog.Checkpoint
	// Keys are the log's keys in the order they were in force.
	Keys      []Key
	Selection Selection
	// Entries are the selected records and every key change (so that the
	// verifier can follow the keys), in log order.
	Entries []Entry
	// History holds every checkpoint 0..N for a complete bundle (an empty
	// Selection), else the one signed right after each entry.
	History []HistoryLine
	// LeafHashes (the N leaf hashes) and Proofs (an inclusion proof per
	// entry, then a consistency proof per historical checkpoint but the
	// empty and the latest) are for subset bundles only.
	LeafHashes []tlog.Hash
	Proofs     []ProofLine
}

// Entry is one entry of a bundle.
type Entry struct {
	Index int64
	// Leaf is the entry as logged, byte for byte.
	Leaf []byte
	// Record is the drill record; nil for a key change.
	Record *record.Record
}

// Summary says what Write wrote.
type Summary struct {
	Manifest   Manifest
	Checkpoint []byte
}

// writer writes the members of a bundle in order and keeps the digest of
// each for the export statement.
type writer struct {
	tw      *tar.Writer
	now     time.Time
	members []memberDigest // every member but the statement
}

func (w *writer) write(name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: w.now, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := w.tw.Write(data)
	return err
}

// put writes a member that the export statement names.
func (w *writer) put(name string, data []byte) error {
	w.members = append(w.members, digestOf(name, data))
	return w.write(name, data)
}

// Write writes the bundle of c to out, its export statement signed with
// key (the log's key in force), made at now.
func Write(out io.Writer, c *Contents, key *keys.Key, now time.Time) (*Summary, error) {
	sel := c.Selection
	man := Manifest{Format: Format, Origin: c.Origin, LogSize: c.Size, Complete: sel.All(),
		Selection: sel.String(), Records: int64(len(c.Entries)), Created: now.UTC(), Keys: c.Keys}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	w := &writer{tw: tar.NewWriter(zw), now: now.UTC()}
	if err := w.log(c, &man); err != nil {
		return nil, err
	}
	pred := &ExportPredicate{LogOrigin: c.Origin, LogSize: c.Size, LogRoot: c.Head.Root.String(), Complete: man.Complete,
		Selection: man.Selection, Since: sel.Since.UTC(), Until: sel.Until.UTC(), Service: sel.Service, Drill: sel.Drill,
		Records: man.Records, Created: man.Created}
	var recs []*record.Record
	for _, e := range c.Entries {
		if e.Record != nil {
			recs = append(recs, e.Record)
		}
	}
	for _, name := range reportMembers {
		var buf bytes.Buffer
		if err := writeReport(name, &buf, pred, c.Head, recs); err != nil {
			return nil, err
		}
		if err := w.put(name, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	stmt, err := signExport(pred, w.members, key)
	if err != nil {
		return nil, err
	}
	if err := w.write(MemberStatement, stmt); err != nil {
		return nil, err
	}
	if err := w.tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Summary{Manifest: man, Checkpoint: bytes.Clone(c.Latest)}, nil
}

// log writes the members that hold the log: manifest, keys, checkpoints,
// hashes and proofs (subset bundles), entries.
func (w *writer) log(c *Contents, man *Manifest) error {
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	if err := w.put(memberManifest, append(mj, '\n')); err != nil {
		return err
	}
	for j, k := range c.Keys {
		name := fmt.Sprintf("%skeys/%s-%d", Dir, keyFileName(k.Key), j+1)
		if err := w.put(name+".pub", []byte(k.Key+"\n")); err != nil {
			return err
		}
		if vk, err := keys.VerifyOnly(k.Key); err == nil {
			if err := w.put(name+".pem", vk.PublicPEM()); err != nil {
				return err
			}
		}
	}
	if err := w.put(memberCheckpoint, c.Latest); err != nil {
		return err
	}
	var hist bytes.Buffer
	for _, h := range c.History {
		b, err := json.Marshal(h)
		if err != nil {
			return err
		}
		hist.Write(b)
		hist.WriteByte('\n')
	}
	if err := w.put(memberHistory, hist.Bytes()); err != nil {
		return err
	}
	if !man.Complete {
		if err := w.proofs(c); err != nil {
			return err
		}
	}
	// The entries, byte for byte.
	var entries bytes.Buffer
	for _, e := range c.Entries {
		entries.WriteString(`{"index":`)
		entries.WriteString(strconv.FormatInt(e.Index, 10))
		entries.WriteString(`,"envelope":`)
		entries.Write(e.Leaf)
		entries.WriteString("}\n")
	}
	return w.put(memberEntries, entries.Bytes())
}

// proofs writes a subset bundle's leaf hashes of the whole log and its
// proofs, for verifiers that check proofs instead of rebuilding the tree.
func (w *writer) proofs(c *Contents) error {
	hashes := make([]byte, 0, 32*len(c.LeafHashes))
	for _, h := range c.LeafHashes {
		hashes = append(hashes, h[:]...)
	}
	if err := w.put(memberHashes, hashes); err != nil {
		return err
	}
	var proofs bytes.Buffer
	enc := json.NewEncoder(&proofs)
	for _, p := range c.Proofs {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return w.put(memberProofs, proofs.Bytes())
}
