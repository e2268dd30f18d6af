package bundle

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/record"
)

// An export bundle is a gzip'd tar archive whose members, in this order,
// are (see docs/evidence.md):
//
//	drill-evidence/manifest.json      Manifest
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
	// Dir is the folder every member is in.
	Dir = "drill-evidence/"
	// Format is the format this drill writes and reads. Format 1, before
	// export statements, is refused (see Verify).
	Format           = 2
	memberManifest   = Dir + "manifest.json"
	memberCheckpoint = Dir + "checkpoint"
	memberHistory    = Dir + "checkpoints.jsonl"
	memberHashes     = Dir + "hashes"
	memberProofs     = Dir + "proofs.jsonl"
	memberEntries    = Dir + "entries.jsonl"
	// MemberReportCSV and MemberReportHTML are the reports, rebuilt from
	// the entries by the verifier.
	MemberReportCSV  = Dir + "report.csv"
	MemberReportHTML = Dir + "report.html"
)

// Manifest describes a bundle: its manifest.json.
type Manifest struct {
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
	Keys []Key `json:"keys"`
}

// Key is a key of the log and the first entry (and checkpoint size)
// it signs.
type Key struct {
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

// All reports whether s selects every record.
func (s Selection) All() bool { return s == Selection{} }

// Match reports whether s selects r.
func (s Selection) Match(r *record.Record) bool {
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
	if s.All() {
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

// HistoryLine is a line of checkpoints.jsonl: a historical checkpoint.
type HistoryLine struct {
	Size int64  `json:"size"`
	Note string `json:"note"`
}

// ProofLine is a line of proofs.jsonl: the inclusion proof of entry Index
// in the log of the latest checkpoint, or the consistency proof from the
// historical checkpoint of size Size to it.
type ProofLine struct {
	Index       *int64      `json:"index,omitempty"`
	Inclusion   []tlog.Hash `json:"inclusion,omitempty"`
	Size        *int64      `json:"size,omitempty"`
	Consistency []tlog.Hash `json:"consistency,omitempty"`
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

// ReadManifest reads the manifest of the bundle file at path, its
// first member, without verifying anything.
func ReadManifest(path string) (*Manifest, error) {
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
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("bundle %s: manifest.json: %w", path, err)
	}
	return &m, nil
}
