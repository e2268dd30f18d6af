// Package record defines a drill record: the result of one drill (verdict,
// reasons, checks, restore point, figures) as the evidence log keeps it and
// every command prints it. It holds data and its escaping only: the store
// (internal/evidence), the signing and the bundle code all build on it, and
// an offline verifier reads it without the store.
package record

import (
	"slices"
	"time"

	"github.com/drillhq/drill/internal/textsafe"
)

// Record is the result of one drill as it is kept in the evidence log: the
// predicate of the in-toto Statement that is signed into each log entry.
// Field order here is the order of the canonical JSON encoding; never
// reorder or rename fields of a released version.
type Record struct {
	// LogOrigin and LogIndex place the record in its log. Append sets them.
	LogOrigin string `json:"log_origin"`
	LogIndex  int64  `json:"log_index"`

	Drill   string `json:"drill"`
	Service string `json:"service"`
	Backend string `json:"backend"`
	// SourceSHA256 is the hex SHA-256 of the backend name and the source
	// as drill passed it to the backend (paths resolved): records with the
	// same digest drilled the same backup the same way. Empty for records
	// of drills that did not get that far.
	SourceSHA256 string   `json:"source_sha256,omitempty"`
	Host         string   `json:"host"`
	Verdict      Verdict  `json:"verdict"`
	Reasons      []string `json:"reasons"`

	RestorePoint RestorePoint `json:"restore_point"`
	Started      time.Time    `json:"started"`
	Finished     time.Time    `json:"finished"`
	// RestoreSeconds is the restore plus checks, measured against the RTO.
	RestoreSeconds float64 `json:"restore_seconds"`
	// BackupAgeSeconds is the restore point's age at drill start, measured
	// against the RPO; 0 when no restore point was found.
	BackupAgeSeconds float64 `json:"backup_age_seconds"`
	RPOSeconds       float64 `json:"rpo_seconds,omitempty"`
	RTOSeconds       float64 `json:"rto_seconds,omitempty"`

	Files          int64   `json:"files"`
	Bytes          int64   `json:"bytes"`
	ManifestSHA256 string  `json:"manifest_sha256"`
	Checks         []Check `json:"checks"`
	// Tables are a database drill's restored tables; the manifest digest
	// is over them.
	Tables []Table `json:"tables,omitempty"`
	// Sample is set for a sampled drill: the slice it restored, of which
	// Files and Bytes are the regular files and bytes.
	Sample *Sample `json:"sample,omitempty"`

	// Details are facts from the backend (tool and server versions).
	Details map[string]string `json:"details,omitempty"`
	// DrillVersion is the version of drill that ran the drill.
	DrillVersion string `json:"drill_version"`
}

// RestorePoint identifies what a drill restored.
type RestorePoint struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Description is a human label: the archive file, the snapshot's host and paths.
	Description string `json:"description,omitempty"`
}

// Sample says which slice of its restore point a sampled drill restored.
// The slices partition the restore point's files by path (seed and all):
// Slices drills restoring slices 0 to Slices-1 restore every file once.
type Sample struct {
	// Percent is the configured share; Slices is ceil(100/Percent).
	Percent int    `json:"percent"`
	Seed    string `json:"seed"`
	// Slice is 0-based: 0 <= Slice < Slices.
	Slice  int `json:"slice"`
	Slices int `json:"slices"`
	// Depth is where the backend cut paths into the units it sampled:
	// a file is in the slice of its path's first Depth components (0:
	// of its whole path).
	Depth int `json:"depth,omitempty"`
	// TotalFiles and TotalBytes are the restore point's regular files and
	// their bytes, as the backend listed them; 0 when it could not say.
	TotalFiles int64 `json:"total_files"`
	TotalBytes int64 `json:"total_bytes"`
}

// Table is one restored table of a database drill.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	// Fingerprint is a digest of the rows in primary-key order computed by
	// the server; empty when the table was only counted.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Check is one check of a drill and its outcome.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Verdict is a drill's outcome: pass, fail, error or interrupted (DESIGN.md,
// Verdicts). drills/verdict.go decides it.
type Verdict string

// Verdicts.
const (
	VerdictPass        Verdict = "pass"
	VerdictFail        Verdict = "fail"
	VerdictError       Verdict = "error"
	VerdictInterrupted Verdict = "interrupted"
)

// Escape replaces every string of r that may hold text from a backup, a
// tool or a plugin (reasons, check names and details, details keys and
// values, the restore point's ID and description, table names and
// fingerprints, the sample's seed) and the names around them with its
// textsafe.Escape form, so that no control character reaches a terminal
// or the evidence log. The runner calls it on every record before it is
// appended, and the CLI on every record it prints (records from before
// escaping may hold raw text); escaping is stable, so twice is as once.
//
// Escape never writes through r's slices, map or Sample: it replaces
// them, so escaping a shallow copy of a record leaves the original as it
// was.
func (r *Record) Escape() {
	for _, s := range []*string{&r.LogOrigin, &r.Drill, &r.Service, &r.Backend, &r.SourceSHA256, &r.Host,
		&r.RestorePoint.ID, &r.RestorePoint.Description, &r.ManifestSHA256, &r.DrillVersion} {
		*s = textsafe.Escape(*s)
	}
	r.Verdict = Verdict(textsafe.Escape(string(r.Verdict)))
	if r.Reasons != nil {
		r.Reasons = textsafe.EscapeAll(slices.Clone(r.Reasons))
	}
	if r.Checks != nil {
		checks := make([]Check, len(r.Checks))
		for i, c := range r.Checks {
			checks[i] = Check{Name: textsafe.Escape(c.Name), OK: c.OK, Detail: textsafe.Escape(c.Detail)}
		}
		r.Checks = checks
	}
	if r.Tables != nil {
		tables := make([]Table, len(r.Tables))
		for i, t := range r.Tables {
			tables[i] = Table{Name: textsafe.Escape(t.Name), Rows: t.Rows, Fingerprint: textsafe.Escape(t.Fingerprint)}
		}
		r.Tables = tables
	}
	if r.Sample != nil {
		s := *r.Sample
		s.Seed = textsafe.Escape(s.Seed)
		r.Sample = &s
	}
	if r.Details != nil {
		details := make(map[string]string, len(r.Details))
		for k, v := range r.Details {
			details[textsafe.Escape(k)] = textsafe.Escape(v)
		}
		r.Details = details
	}
}

// Escaped returns a copy of r with every string escaped (see Escape); r
// is left as it was.
func (r *Record) Escaped() *Record {
	c := *r
	c.Escape()
	return &c
}
