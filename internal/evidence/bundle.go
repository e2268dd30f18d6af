package evidence

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/record"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/keys"
)

// An export bundle is a gzip'd tar archive whose members, in this order,
// are (see docs/evidence.md):
//
//	drill-evidence/manifest.json      BundleManifest
//	drill-evidence/keys/<name>.pub    the log's note verifier key(s)
//	drill-evidence/keys/<name>.pem    the same as PEM PUBLIC KEY
//	drill-evidence/checkpoint         the latest signed checkpoint (size N)
//	drill-evidence/checkpoints.jsonl  historical checkpoints {"size":n,"note":"..."}, by size
//	drill-evidence/hashes             subset bundles: the N leaf hashes, 32 bytes each
//	drill-evidence/proofs.jsonl       subset bundles: {"index":i,"inclusion":[...]} per entry, then
//	                                  {"size":n,"consistency":[...]} per historical checkpoint
//	drill-evidence/entries.jsonl      {"index":i,"envelope":<the leaf, byte for byte>} in log order
//	drill-evidence/report.csv         reading aids, rebuilt from the entries by the verifier
//	drill-evidence/report.html
//	drill-evidence/export.dsse.json   the export statement (ExportPredicate), signed
//
// A complete bundle holds every record and every checkpoint 0..N: the
// verifier rebuilds the whole tree. A subset bundle holds the selected
// records, the checkpoint signed right after each of them, and the leaf
// hashes of the whole log, from which the verifier rebuilds the tree and
// checks each record's place in it (and the inclusion and consistency
// proofs, for verifiers that do not rebuild).
//
// The export statement binds every other member by name and SHA-256, and
// the log's origin, size and root, the selection and the time of export:
// a bundle cut short, a member changed, added or removed, is refused.
const (
	bundleDir = "drill-evidence/"
	// BundleFormat is the format this drill writes and reads. Format 1,
	// before export statements, is refused (see VerifyBundle).
	BundleFormat     = 2
	memberManifest   = bundleDir + "manifest.json"
	memberCheckpoint = bundleDir + "checkpoint"
	memberHistory    = bundleDir + "checkpoints.jsonl"
	memberHashes     = bundleDir + "hashes"
	memberProofs     = bundleDir + "proofs.jsonl"
	memberEntries    = bundleDir + "entries.jsonl"
	memberReportCSV  = bundleDir + "report.csv"
	memberReportHTML = bundleDir + "report.html"
)

// BundleManifest describes a bundle.
type BundleManifest struct {
	Format int    `json:"format"`
	Origin string `json:"origin"`
	// LogSize is the size N of the log at export: the latest checkpoint's.
	LogSize int64 `json:"log_size"`
	// Complete is true when the bundle holds every record of the log.
	Complete bool `json:"complete"`
	// Selection says which records were selected, for people.
	Selection string `json:"selection"`
	// Records is how many entries the bundle holds.
	Records int64     `json:"records"`
	Created time.Time `json:"created"`
	// Keys are the log's keys in the order they were in force: the first
	// from entry 0, each later one from the entry after its key change.
	Keys []BundleKey `json:"keys"`
}

// BundleKey is a key of the log and the first entry (and checkpoint size)
// it signs.
type BundleKey struct {
	Key  string `json:"key"`
	From int64  `json:"from"`
}

// Selection picks the records of an export. Zero fields select all.
type Selection struct {
	// Since and Until bound the records' start time: Since <= started < Until.
	Since, Until time.Time
	Service      string
	Drill        string
}

func (s Selection) all() bool { return s == Selection{} }

func (s Selection) match(r *record.Record) bool {
	switch {
	case !s.Since.IsZero() && r.Started.Before(s.Since):
		return false
	case !s.Until.IsZero() && !r.Started.Before(s.Until):
		return false
	case s.Service != "" && r.Service != s.Service:
		return false
	case s.Drill != "" && r.Drill != s.Drill:
		return false
	}
	return true
}

// String describes the selection for people.
func (s Selection) String() string {
	if s.all() {
		return "all records"
	}
	var parts []string
	if s.Service != "" {
		parts = append(parts, "service "+s.Service)
	}
	if s.Drill != "" {
		parts = append(parts, "drill "+s.Drill)
	}
	if !s.Since.IsZero() {
		parts = append(parts, "started since "+s.Since.UTC().Format(time.RFC3339))
	}
	if !s.Until.IsZero() {
		parts = append(parts, "started before "+s.Until.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

// ExportSummary says what Export wrote.
type ExportSummary struct {
	Manifest   BundleManifest
	Checkpoint []byte
}

// historyLine and proofLine are the lines of checkpoints.jsonl and
// proofs.jsonl.
type historyLine struct {
	Size int64  `json:"size"`
	Note string `json:"note"`
}

type proofLine struct {
	Index       *int64      `json:"index,omitempty"`
	Inclusion   []tlog.Hash `json:"inclusion,omitempty"`
	Size        *int64      `json:"size,omitempty"`
	Consistency []tlog.Hash `json:"consistency,omitempty"`
}

// Export writes a bundle of the records sel selects, as of the latest
// signed checkpoint, to w. The log is read in one read transaction, so
// records appended meanwhile are not in it.
func (s *Store) Export(w io.Writer, sel Selection, now time.Time) (*ExportSummary, error) {
	var sum *ExportSummary
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		sum, err = s.export(tx, w, sel, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export evidence: %w", err)
	}
	return sum, nil
}

func (s *Store) export(tx *bbolt.Tx, w io.Writer, sel Selection, now time.Time) (*ExportSummary, error) {
	if s.key == nil || s.key.Private == nil {
		return nil, errors.New("the export statement is signed with the log's private key, and the store was opened without it (export through the agent, or as the user that can read state_dir/keys/drill.key)")
	}
	if s.keyErr != nil {
		return nil, s.keyErr
	}
	n, err := storedSize(tx)
	if err != nil {
		return nil, err
	}
	cps := tx.Bucket(bucketCheckpoints)
	latest := cps.Get(be64(uint64(n)))
	if latest == nil {
		return nil, fmt.Errorf("no signed checkpoint of size %d: run drill evidence verify", n)
	}
	head, err := openCheckpoint(latest, s.verifier)
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint: %w", err)
	}
	leaves := tx.Bucket(bucketLeaves)
	hr := txHashReader(tx)

	// Select the entries; key changes always go in, so that the verifier
	// can follow the keys. Records go into the reports.
	var idx []int64
	var recs []*record.Record
	first := s.vkey
	if v := tx.Bucket(bucketMeta).Get(metaVKey0); v != nil {
		first = string(v)
	}
	chain := []BundleKey{{Key: first, From: 0}}
	for i := int64(0); i < n; i++ {
		leaf := leaves.Get(be64(uint64(i)))
		if leaf == nil {
			return nil, fmt.Errorf("record %d is missing: run drill evidence verify", i)
		}
		e, err := parseEntry(i, leaf)
		if err != nil {
			return nil, err
		}
		if e.KeyChange != nil {
			chain = append(chain, BundleKey{Key: e.KeyChange.NewKey, From: i + 1})
			idx = append(idx, i)
			continue
		}
		if sel.match(e.Record) {
			idx = append(idx, i)
			recs = append(recs, e.Record)
		}
	}
	if last := chain[len(chain)-1].Key; last != s.key.VerifierKey {
		return nil, fmt.Errorf("the signing key %s is not the log's key in force (%s)", s.key.VerifierKey, last)
	}
	complete := sel.all()
	man := BundleManifest{Format: BundleFormat, Origin: s.origin, LogSize: n, Complete: complete,
		Selection: sel.String(), Records: int64(len(idx)), Created: now.UTC(), Keys: chain}

	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	// Every member but the statement goes into the statement.
	var members []memberDigest
	write := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now.UTC(), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	put := func(name string, data []byte) error {
		members = append(members, digestOf(name, data))
		return write(name, data)
	}
	mj, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := put(memberManifest, append(mj, '\n')); err != nil {
		return nil, err
	}
	for j, k := range chain {
		name := fmt.Sprintf("%skeys/%s-%d", bundleDir, keyFileName(k.Key), j+1)
		if err := put(name+".pub", []byte(k.Key+"\n")); err != nil {
			return nil, err
		}
		if vk, err := keys.VerifyOnly(k.Key); err == nil {
			if err := put(name+".pem", vk.PublicPEM()); err != nil {
				return nil, err
			}
		}
	}
	if err := put(memberCheckpoint, latest); err != nil {
		return nil, err
	}

	// Historical checkpoints: all of them, or the one signed right after
	// each selected record.
	var hist bytes.Buffer
	var histSizes []int64
	addHist := func(size int64) error {
		cp := cps.Get(be64(uint64(size)))
		if cp == nil {
			return fmt.Errorf("checkpoint %d is missing: run drill evidence verify", size)
		}
		b, err := json.Marshal(historyLine{Size: size, Note: string(cp)})
		if err != nil {
			return err
		}
		hist.Write(b)
		hist.WriteByte('\n')
		histSizes = append(histSizes, size)
		return nil
	}
	if complete {
		for size := int64(0); size <= n; size++ {
			if err := addHist(size); err != nil {
				return nil, err
			}
		}
	} else {
		for _, i := range idx {
			if err := addHist(i + 1); err != nil {
				return nil, err
			}
		}
	}
	if err := put(memberHistory, hist.Bytes()); err != nil {
		return nil, err
	}

	if !complete {
		// The leaf hashes of the whole log, and proofs for verifiers that
		// check proofs instead of rebuilding the tree.
		at := make([]int64, n)
		for i := range at {
			at[i] = tlog.StoredHashIndex(0, int64(i))
		}
		leafHashes, err := hr.ReadHashes(at)
		if err != nil {
			return nil, err
		}
		hashes := make([]byte, 0, 32*n)
		for _, h := range leafHashes {
			hashes = append(hashes, h[:]...)
		}
		if err := put(memberHashes, hashes); err != nil {
			return nil, err
		}
		var proofs bytes.Buffer
		enc := json.NewEncoder(&proofs)
		for _, i := range idx {
			p, err := tlog.ProveRecord(n, i, hr)
			if err != nil {
				return nil, fmt.Errorf("prove record %d: %w", i, err)
			}
			if err := enc.Encode(proofLine{Index: &i, Inclusion: p}); err != nil {
				return nil, err
			}
		}
		for _, size := range histSizes {
			if size == 0 || size == n {
				continue
			}
			p, err := tlog.ProveTree(n, size, hr)
			if err != nil {
				return nil, fmt.Errorf("prove checkpoint %d: %w", size, err)
			}
			if err := enc.Encode(proofLine{Size: &size, Consistency: p}); err != nil {
				return nil, err
			}
		}
		if err := put(memberProofs, proofs.Bytes()); err != nil {
			return nil, err
		}
	}

	// The entries, byte for byte.
	var entries bytes.Buffer
	for _, i := range idx {
		entries.WriteString(`{"index":`)
		entries.WriteString(strconv.FormatInt(i, 10))
		entries.WriteString(`,"envelope":`)
		entries.Write(leaves.Get(be64(uint64(i))))
		entries.WriteString("}\n")
	}
	if err := put(memberEntries, entries.Bytes()); err != nil {
		return nil, err
	}

	pred := &ExportPredicate{LogOrigin: s.origin, LogSize: n, LogRoot: head.Root.String(), Complete: complete,
		Selection: man.Selection, Since: sel.Since.UTC(), Until: sel.Until.UTC(), Service: sel.Service, Drill: sel.Drill,
		Records: man.Records, Created: man.Created}
	for _, name := range reportMembers {
		var buf bytes.Buffer
		if err := writeReport(name, &buf, pred, head, recs); err != nil {
			return nil, err
		}
		if err := put(name, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	stmt, err := signExport(pred, members, s.key)
	if err != nil {
		return nil, err
	}
	if err := write(memberStatement, stmt); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &ExportSummary{Manifest: man, Checkpoint: bytes.Clone(latest)}, nil
}

// reportMembers are the reports of a bundle, in archive order.
var reportMembers = []string{memberReportCSV, memberReportHTML}

// writeReport renders report member name of a bundle: a function of the
// export statement's predicate, the latest checkpoint and the selected
// records alone, so that a verifier rebuilds it byte for byte.
func writeReport(name string, w io.Writer, p *ExportPredicate, latest checkpoint, recs []*record.Record) error {
	switch name {
	case memberReportCSV:
		return WriteReportCSV(w, recs)
	case memberReportHTML:
		info := ReportInfo{Origin: p.LogOrigin, LogSize: p.LogSize, Selection: p.Selection, Created: p.Created, Checkpoint: formatCheckpoint(latest)}
		return WriteReportHTML(w, info, recs)
	}
	return fmt.Errorf("no report %s", name)
}

// keyFileName is a key's name made safe as a file name.
func keyFileName(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, name)
}

// ReadBundleManifest reads the manifest of the bundle file at path, its
// first member, without verifying anything.
func ReadBundleManifest(path string) (*BundleManifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != memberManifest {
		return nil, fmt.Errorf("bundle %s: no manifest.json first (%v)", path, err) //nolint:errorlint // err is nil when the first member has another name
	}
	var m BundleManifest
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("bundle %s: manifest.json: %w", path, err)
	}
	return &m, nil
}
