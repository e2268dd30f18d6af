package plugins

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"
)

// ProtocolVersion is the major version of the drill backend protocol. It is
// the go-plugin handshake's protocol version: a host and a plugin of
// different major versions refuse each other at start.
const ProtocolVersion = 1

// Backend is what a backend plugin implements: the contract between drill
// (the host) and one kind of backup (restic, filesystem, postgres, ...).
//
// The host calls the methods in this order for one drill: Describe (once per
// process), ValidateSource, ListRestorePoints, Restore, Cleanup. Between
// ValidateSource and ListRestorePoints the plugin process confines itself
// (the Confine RPC, served by the glue): from then on a backend reads only
// its sources, writes only below the run's scratch directory (Restore's
// Target is inside it; TMPDIR is a folder of it), runs only its tools and
// connects only to its servers' ports, as it declares them by implementing
// Confiner (see sandbox.go and docs/sandbox.md). Every method
// must honour ctx: when it is cancelled the method stops its work, kills any
// child process gracefully, and returns ctx.Err() wrapped.
//
// Errors returned from a method mean the drill could not be carried out
// (verdict "error"). Damage found in the backup itself (a truncated archive,
// a checksum that does not match) is not an error: it is reported as a
// Problem of kind ProblemFail in the response, so the drill fails.
type Backend interface {
	// Describe names the backend and the source keys it accepts. It is
	// cheap, has no side effects and may be called at any time.
	Describe(ctx context.Context, req *DescribeRequest) (*DescribeResponse, error)

	// ValidateSource checks a source without touching the backup (no
	// network, no reading of backup data). Every problem is returned, each
	// naming its key; an empty Problems list means the source is valid.
	ValidateSource(ctx context.Context, req *ValidateSourceRequest) (*ValidateSourceResponse, error)

	// ListRestorePoints lists what could be restored, newest first. No
	// restore point (an empty glob, an empty repository) is not an error:
	// the response is empty and the host fails the drill.
	ListRestorePoints(ctx context.Context, req *ListRestorePointsRequest) (*ListRestorePointsResponse, error)

	// Restore restores one restore point into req.Target, an empty
	// directory the host created and owns. It must never write outside
	// Target. It reports progress and every restored regular file through
	// events as it goes. It is not idempotent: the host always passes a
	// fresh, empty Target.
	Restore(ctx context.Context, req *RestoreRequest, events RestoreEvents) (*RestoreResponse, error)

	// Cleanup removes anything the backend created for the drill outside
	// Target (a scratch database, a cache). It is idempotent and is called
	// after every Restore, whatever its outcome, also after a cancellation.
	Cleanup(ctx context.Context, req *CleanupRequest) (*CleanupResponse, error)
}

// RestoreEvents receives what a restore reports as it goes. Calls are made
// from one goroutine at a time. An error means the host has gone away: the
// backend should stop the restore and return.
type RestoreEvents interface {
	// Progress reports how far the restore is. A backend reports progress
	// as soon as Restore starts and then regularly: the host takes a
	// restore that has reported nothing by the drill's timeout for a hung
	// backend (verdict error), and one that was reporting for a restore too
	// slow for its timeout (verdict fail).
	Progress(p Progress) error
	// Files reports restored regular files after each has been written
	// completely and closed. A path reported again (an archive that holds
	// the same name twice, where the later entry replaces the earlier one,
	// as with tar -x) replaces the earlier report.
	Files(files []File) error
	// Scratch announces a scratch resource (a database) the backend is
	// about to create outside the target, before creating it, so that the
	// host can record it and remove it if the drill crashes. An error
	// means the backend must not create it.
	Scratch(name string) error
}

// Source is a drill's `source:` section from the config, with paths already
// resolved against the config file's folder for keys of type path or glob.
// Values are string, []string, int64, float64 or bool.
type Source map[string]any

// Kind says what a backend restores, so the host knows which checks apply.
type Kind string

const (
	// KindFiles backends restore a tree of files into Target.
	KindFiles Kind = "files"
	// KindDatabase backends restore into a scratch database.
	KindDatabase Kind = "database"
)

// KeyType is the type of a source key's value.
type KeyType string

const (
	TypeString   KeyType = "string"   // any string
	TypePath     KeyType = "path"     // a local path, resolved against the config's folder
	TypeGlob     KeyType = "glob"     // a local glob pattern, resolved against the config's folder
	TypeStrings  KeyType = "strings"  // a list of strings
	TypeBool     KeyType = "bool"     // true or false
	TypeInt      KeyType = "int"      // an integer
	TypeSize     KeyType = "size"     // a size such as 10GiB, passed as an int64 of bytes
	TypeDuration KeyType = "duration" // a duration such as 7d, passed as an int64 of nanoseconds
)

// SourceKey describes one key of a backend's source section.
type SourceKey struct {
	Name     string
	Type     KeyType
	Required bool
	// Secret marks keys whose value must never be shown (none of the
	// built-in backends take a secret inline; this marks references such as
	// password_command whose output is secret).
	Secret bool
	Doc    string
}

// DescribeRequest asks a backend to describe itself.
type DescribeRequest struct{}

// DescribeResponse names a backend and what it accepts.
type DescribeResponse struct {
	Name       string
	Version    string
	Kind       Kind
	SourceKeys []SourceKey
	// PointNoun names one restore point ("snapshot") and StoreNoun where
	// they are kept ("repository"), for messages such as "snapshot <id> of
	// <time> has vanished from the repository". Empty: "restore point" and
	// "backup".
	PointNoun, StoreNoun string
	// Sampling says the backend restores a sample when asked
	// (RestoreRequest.Sample; KindFiles only). The host never asks a
	// backend without it.
	Sampling bool
	// RestoresNewest says the backend restores its newest restore point
	// when asked (RestoreRequest.Newest), choosing it itself and saying
	// which in RestoreResponse.Point, so the host need not list the
	// points first. The host never asks a backend without it.
	RestoresNewest bool
}

// ValidateSourceRequest asks whether a source is acceptable.
type ValidateSourceRequest struct {
	Source Source
}

// ValidateSourceResponse lists every problem with the source.
type ValidateSourceResponse struct {
	Problems []Problem
}

// ListRestorePointsRequest asks for the restore points of a source.
type ListRestorePointsRequest struct {
	Source Source
}

// ListRestorePointsResponse lists restore points, newest first.
type ListRestorePointsResponse struct {
	Points []RestorePoint
	// Problems are damage seen while listing, such as a snapshot that
	// cannot be read. A ProblemFail fails the drill even when the newest
	// point restores well.
	Problems []Problem
}

// RestorePoint is one thing that can be restored: an archive, a snapshot,
// a dump.
type RestorePoint struct {
	// ID identifies the point for Restore; stable across calls.
	ID string
	// Time is when the backup was taken; the RPO is measured from it.
	Time time.Time
	// Size in bytes, or -1 when unknown.
	Size int64
	// Files is the number of regular files, or -1 when unknown.
	Files int64
	// Description is a short human label (file name, host and paths).
	Description string
	// TimeBasis says what Time is, for the RPO's reason and the evidence
	// (details.backup_time_basis): "snapshot time", "archive mtime",
	// "dump mtime", "stamp mtime", "newest ctime". Empty: not said.
	TimeBasis string
	// Root is the folder, "/"-separated and relative to the restore
	// target, that the drill's manifest and paths entries are relative to
	// (restic: the snapshot's one path, such as "srv/files"; filesystem:
	// the folder an archive or copy holds alone); empty for the target
	// itself. Entries given as absolute paths are relative to the target
	// whatever Root is; a relative one not found below Root is looked up
	// from the folders above it, for a Root that is a guess. The host
	// takes the Root of RestoreResponse.Point when that names the point
	// asked for, else the listed point's: a backend may know it only once
	// restored (restic: where the snapshot's path is in its tree, "files"
	// for a backup of "files", "" for one of ".").
	Root string
}

// The time bases of the built-in backends (RestorePoint.TimeBasis). The
// host words the RPO check by them: a directory copy dated by what is in
// it (BasisNewestCtime, BasisNewestMtime) is dated better by a stamp.
const (
	BasisSnapshotTime = "snapshot time" // when restic took the snapshot
	BasisArchiveMtime = "archive mtime" // a tar archive's modification time
	BasisDumpMtime    = "dump mtime"    // a dump file's (a -Fd dump folder's) modification time
	BasisStampMtime   = "stamp mtime"   // the mtime of the stamp a backup job touches in its copy
	// BasisNewestCtime is the newest ctime of any entry in a directory
	// copy: when the copy was last written (copy tools keep the source's
	// mtimes but cannot set ctimes).
	BasisNewestCtime = "newest ctime"
	// BasisNewestMtime is the newest mtime in a directory copy, where
	// ctimes cannot be read: how old the data is, not when it was copied.
	BasisNewestMtime = "newest mtime"
)

// RestoreRequest asks a backend to restore one restore point.
type RestoreRequest struct {
	Source Source
	// PointID is a RestorePoint.ID from ListRestorePoints.
	PointID string
	// Target is an absolute path to an empty directory (mode 0700) that
	// the host created; the backend writes only below it.
	Target string
	// MaxBytes stops the restore with an error problem once more than this
	// many bytes would be written; 0 means no limit.
	MaxBytes int64
	// DrillName is the drill's name, for naming scratch resources.
	DrillName string
	// DatabaseChecks are the drill's database checks, for KindDatabase
	// backends to run in the scratch database after the restore (and
	// report as Checks named "tables", "min_rows" and "sql"); nil when
	// the drill has none.
	DatabaseChecks *DatabaseChecks
	// Sample, when not nil, asks for one slice of the restore point's
	// files instead of all of them (a sampled drill); see Sample.
	Sample *Sample
	// Newest, for a backend that declares RestoresNewest, asks for the
	// newest restore point of the source, the one ListRestorePoints would
	// list first; PointID is empty. The backend names the point it
	// restored in RestoreResponse.Point, with everything ListRestorePoints
	// gives of it (time, size, description, time basis), or answers
	// ListFirst.
	Newest bool
}

// Sample is one slice of a restore point's files. The slices partition
// the restore point by path, never by size, so that restoring slices 0, 1,
// ... Slices-1 in turn restores every file once, the largest included,
// and a file stays in its slice while the backup changes around it.
type Sample struct {
	// Seed varies the partition: a different seed, different slices.
	Seed string
	// Slice is the slice to restore, 0 <= Slice < Slices.
	Slice, Slices int
}

// Has reports whether the entry with path p is in the sample: p as the
// backend names the restore point's entries, relative to its root,
// "/"-separated, without a leading "/". Has is true for every path of a
// nil sample. Directories are not sampled: a backend creates those the
// sampled entries need.
func (s *Sample) Has(p string) bool { return s.HasAt(p, 0) }

// HasAt is Has with the paths cut into units at depth (see Unit): a backend
// that samples whole subtrees, to restore a slice with fewer patterns,
// reports the depth it used as RestoreResponse.SampleDepth.
func (s *Sample) HasAt(p string, depth int) bool {
	if s == nil {
		return true
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, s.Seed)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, Unit(p, depth))
	return h.Sum64()%uint64(s.Slices) == uint64(s.Slice)
}

// Unit is the sampling unit of path p at depth: p without a leading "/",
// cut to its first depth components; p itself when depth is 0 or p is not
// deeper.
func Unit(p string, depth int) string {
	p = strings.TrimPrefix(p, "/")
	if depth <= 0 {
		return p
	}
	i := 0
	for range depth {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			return p
		}
		i += j + 1
	}
	return p[:i-1]
}

// String is "slice 2 of 4".
func (s *Sample) String() string { return fmt.Sprintf("slice %d of %d", s.Slice+1, s.Slices) }

// DatabaseChecks are the checks of a drill that restores a database.
type DatabaseChecks struct {
	// Tables must exist, as "table" or "schema.table".
	Tables []string
	// MinRows is the least number of rows per table.
	MinRows map[string]int64
	SQL     []SQLCheck
}

// SQLCheck is a query returning one value, compared with Expect: an
// operator (=, !=, <, <=, >, >=) and a value, such as ">= 1" or "!= ”".
type SQLCheck struct {
	// Name is the check's name from the config: report the result as
	// the Check "sql <name>" ("sql" when empty).
	Name          string
	Query, Expect string
}

// Progress reports how far a restore is. Totals are -1 when unknown.
type Progress struct {
	FilesDone, FilesTotal int64
	BytesDone, BytesTotal int64
}

// File is one restored regular file.
type File struct {
	// Path is relative to Target, slash-separated, as raw bytes in a
	// string: it may be invalid UTF-8 or contain newlines.
	Path string
	Size int64
	// SHA256 is the digest of the content as written, or nil when the
	// backend did not hash it (the host then hashes the file itself).
	SHA256 []byte
}

// ProblemKind classifies a problem.
type ProblemKind string

const (
	// ProblemFail means recovery as claimed is not possible: the backup is
	// damaged, incomplete, or contains something drill refuses to restore.
	ProblemFail ProblemKind = "fail"
	// ProblemError means the drill could not be carried out.
	ProblemError ProblemKind = "error"
)

// Problem is one thing that went wrong, in words an operator can act on.
type Problem struct {
	Kind ProblemKind
	// Key is the source key concerned (for validation), or empty.
	Key string
	// Path is the file or object concerned, or empty.
	Path    string
	Message string
}

// RestoreResponse is the outcome of a restore that was carried out (with or
// without problems).
type RestoreResponse struct {
	// Point is the restore point that was actually restored.
	Point RestorePoint
	// Files and Bytes count the regular files restored and their bytes.
	Files, Bytes int64
	// Problems found in the backup. Any ProblemFail fails the drill.
	Problems []Problem
	// Details are facts worth recording in the evidence (tool versions,
	// server versions), as key and value.
	Details map[string]string
	// Checks are the checks the backend made of what it restored with the
	// backup's own means (the snapshot's listing, `restic check`). The host
	// records them with the drill's checks; one that is not OK fails the
	// drill.
	Checks []Check
	// Tables are the restored tables of a KindDatabase backend, with
	// their row counts and fingerprints; the host's manifest digest is
	// over them.
	Tables []Table
	// TotalFiles and TotalBytes, for a sampled restore, are the regular
	// files and their bytes in the whole restore point, of which Files and
	// Bytes were restored; 0 otherwise.
	TotalFiles, TotalBytes int64
	// SampleDepth, for a sampled restore, is the depth the backend cut
	// paths at into units (Sample.HasAt); 0 for each entry on its own.
	SampleDepth int
	// ListFirst answers a RestoreRequest.Newest that the backend could not
	// carry out on its own (no restore point, one it cannot read, a
	// repository it cannot open, a point larger than MaxBytes or the
	// target's free space): the host lists the restore points and
	// restores by ID, as for a backend without RestoresNewest, so every
	// such case is judged as it is there. The target may hold part of a
	// restore (the host empties it); nothing else in the response is set.
	ListFirst bool
}

// Table is one restored table.
type Table struct {
	// Name is "schema.table".
	Name string
	Rows int64
	// Fingerprint is a hex digest over the rows in primary-key order,
	// computed in the server; empty when the table was only counted (too
	// large, or without a key to order by).
	Fingerprint string
}

// Check is one check a backend made and its outcome. A check that could
// not be made at all is a ProblemError, not a Check.
type Check struct {
	// Name is short and stable, such as "listing" or "restic check".
	Name string
	OK   bool
	// Detail says what was checked and found, in words.
	Detail string
}

// CleanupRequest asks a backend to remove what it created for a drill.
type CleanupRequest struct {
	Source    Source
	Target    string
	DrillName string
	// Scratch are scratch resources an earlier drill announced with
	// RestoreEvents.Scratch and never confirmed removed (it crashed):
	// remove them too. A backend removes only names of the shape it gives
	// its own scratch resources.
	Scratch []string
}

// CleanupResponse is empty; it exists so the RPC can grow.
type CleanupResponse struct{}
