package drills

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
)

// Recorder keeps drill results. The evidence store implements it.
type Recorder interface {
	// Append signs rec into the evidence log, setting rec.LogOrigin and
	// rec.LogIndex, and returns the new entry. It either appends the whole
	// record or nothing.
	Append(rec *record.Record) (*evidence.Entry, error)
	// NewestPoint returns the newest restore point any earlier record of
	// the drill with the same source digest saw, and false when none did.
	NewestPoint(drill, sourceSHA256 string) (evidence.SeenPoint, bool, error)
	// SlicePasses returns when a passing record of the drill with the
	// same source digest last restored each of the slices of a sample
	// with this seed and number of slices (the zero time for never).
	SlicePasses(drill, sourceSHA256, seed string, slices int) ([]time.Time, error)
}

// ScratchKeeper records the scratch resources (databases) backends create,
// until their removal is confirmed. The evidence store implements it.
type ScratchKeeper interface {
	NoteScratch(evidence.Scratch) error
	ScratchDone(backend, name string) error
	ScratchLeft() ([]evidence.Scratch, error)
}

// Marker keeps the start markers of drills under way, so that a drill
// whose process died is recorded as interrupted at the next start. The
// evidence store implements it; its Append clears the marker of the
// record's drill.
type Marker interface {
	// NoteRunning writes a start marker, durably.
	NoteRunning(evidence.Running) error
	// RunningLeft returns the markers no record cleared, oldest first.
	RunningLeft() ([]evidence.Running, error)
}

// Progress is what a running drill reports to whoever watches it.
type Progress struct {
	Drill string
	Phase Phase
	plugins.Progress
}

// Runner runs drills and records every result.
type Runner struct {
	Config   *config.Config
	Launcher Launcher
	Recorder Recorder
	// ScratchRoot is where scratch directories are made (state_dir/scratch).
	ScratchRoot string
	Logger      *slog.Logger
	Now         func() time.Time
	Host        string
	Version     string
	// Progress, when set, is called as the drill goes, from one goroutine
	// at a time.
	Progress func(Progress)
	// Scratch, when set, records the scratch resources backends announce,
	// so that SweepScratch can remove them after a crash.
	Scratch ScratchKeeper
	// Marks, when set, keeps a start marker of each drill until its record
	// is appended, for RecordInterrupted.
	Marks Marker
	// Rand, when set, returns a number in [0, n) for the choice of a
	// random restore point; math/rand/v2 when nil.
	Rand func(n int) int
	// Observe, when set, is called once per drill that listed its restore
	// points, before its scratch space is removed, with what the drill saw
	// (drill init learns a backup's cadence and contents from it).
	Observe func(*Observation)
}

// Observation is what one drill saw of its backup, beside its record.
type Observation struct {
	Drill string
	// Points are the restore points as the backend listed them.
	Points []plugins.RestorePoint
	// Point is the one restored (zero when the drill stopped before), with
	// the Root the restore answered with (where names were looked up).
	Point plugins.RestorePoint
	// Restored lists every restored file with its size and digest, paths
	// relative to the restore target; nil for a database drill or when
	// the drill stopped before the restore was checksummed.
	Restored *manifest.Manifest
}

func (r *Runner) randN(n int) int {
	if r.Rand != nil {
		return r.Rand(n)
	}
	return rand.IntN(n)
}

// ErrUnknownDrill is returned by Run for a name that is not in the config.
var ErrUnknownDrill = errors.New("unknown drill")

// errTimeout is the cause of a drill context ended by the drill's timeout.
var errTimeout = errors.New("drill timeout")

// Run runs the named drill to its verdict and appends the result to the
// evidence log. The returned record is complete whatever the verdict; an
// error means the drill is unknown or its result could not be recorded (the
// record is then returned too, unsigned, for display).
//
// Cancelling ctx interrupts the drill: the backend stops, scratch space is
// removed, and the record says "interrupted".
func (r *Runner) Run(ctx context.Context, name string) (*record.Record, error) {
	d, ok := r.Config.Drills[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (defined: %s)", ErrUnknownDrill, name, strings.Join(r.Config.DrillNames(), ", "))
	}
	rec := r.run(ctx, d)
	// The one place a record's text is made safe: whatever a backup, a
	// tool or a plugin put in it, the record kept and shown holds escapes.
	rec.Escape()
	if r.Recorder == nil {
		return rec, nil
	}
	if _, err := r.Recorder.Append(rec); err != nil {
		return rec, fmt.Errorf("record the result of drill %s: %w", name, err)
	}
	return rec, nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) progress(p Progress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}

// tableManifest is the manifest of a restored database: one entry per
// table, its digest over the row count and the fingerprint, so that two
// drills of the same dump give the same manifest digest.
func tableManifest(tables []plugins.Table) *manifest.Manifest {
	m := &manifest.Manifest{Entries: make([]manifest.Entry, 0, len(tables))}
	for _, t := range tables {
		m.Entries = append(m.Entries, manifest.Entry{Path: t.Name, Size: t.Rows,
			SHA256: sha256.Sum256(fmt.Appendf(nil, "%d %s", t.Rows, t.Fingerprint))})
	}
	m.Sort()
	return m
}

// databaseChecks are the database checks of a drill, or nil.
func databaseChecks(ch config.Checks) *plugins.DatabaseChecks {
	if len(ch.Tables) == 0 && len(ch.MinRows) == 0 && len(ch.SQL) == 0 {
		return nil
	}
	dc := &plugins.DatabaseChecks{Tables: ch.Tables, MinRows: ch.MinRows}
	for _, q := range ch.SQL {
		dc.SQL = append(dc.SQL, plugins.SQLCheck{Name: q.Name, Query: q.Query, Expect: q.Expect})
	}
	return dc
}

// timeBasis is what a restore point's time is, as its backend says, for
// the RPO check and details.backup_time_basis.
func timeBasis(p plugins.RestorePoint) string {
	if p.TimeBasis == "" {
		return "restore point time"
	}
	return textsafe.Escape(p.TimeBasis)
}

// sourceDigest is the hex SHA-256 of a drill's backend and resolved
// source, so that what earlier drills saw is compared only with the same
// backup drilled the same way.
func sourceDigest(backend string, src plugins.Source) string {
	h := sha256.New()
	fmt.Fprintf(h, "backend %q\n", backend)
	for _, k := range slices.Sorted(maps.Keys(src)) {
		fmt.Fprintf(h, "%q %#v\n", k, src[k])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// collector receives a backend's restore events.
type collector struct {
	drill   string
	backend string
	src     plugins.Source
	runner  *Runner
	st      *state
	// stall watches the restore's progress; set before Restore is called.
	stall *stallWatch
	mu    sync.Mutex
	// reported holds every file the backend reported, in the order it
	// did, with its digest when the backend computed one. A slice, not a
	// map: a restore of a million files keeps a million of these.
	reported []reported
	// scratch are the scratch resources the backend announced.
	scratch []string
}

// reported is one file a backend reported.
type reported struct {
	manifest.Entry
	hashed bool
}

var _ plugins.RestoreEvents = (*collector)(nil)

// reset forgets the files reported by a restore whose result is dropped.
func (c *collector) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reported = nil
}

func (c *collector) Progress(p plugins.Progress) error {
	c.st.event()
	c.stall.progress(p)
	c.runner.progress(Progress{Drill: c.drill, Phase: PhaseRestore, Progress: p})
	return nil
}

// Scratch records a scratch resource the backend is about to create, in
// the runner's ScratchKeeper first: a resource the host could not record
// must not be created.
func (c *collector) Scratch(name string) error {
	if k := c.runner.Scratch; k != nil {
		src, err := json.Marshal(c.src)
		if err != nil {
			return err
		}
		if err := k.NoteScratch(evidence.Scratch{Name: name, Drill: c.drill, Backend: c.backend, Source: src, Created: c.runner.now().UTC()}); err != nil {
			return fmt.Errorf("record scratch resource %s: %w", name, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scratch = append(c.scratch, name)
	return nil
}

// announced returns the scratch resources the backend announced, when a
// ScratchKeeper recorded them.
func (c *collector) announced() []string {
	if c.runner.Scratch == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scratch...)
}

func (c *collector) Files(files []plugins.File) error {
	c.st.event()
	if len(files) > 0 {
		c.stall.restored()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		r := reported{Entry: manifest.Entry{Path: f.Path, Size: f.Size}}
		if len(f.SHA256) == len(r.SHA256) {
			copy(r.SHA256[:], f.SHA256)
			r.hashed = true
		}
		c.reported = append(c.reported, r)
	}
	return nil
}

// manifest reconciles the reported files with the target tree and returns
// the manifest of everything restored, and how the tree differs from what
// the backend reported (see reconcile), even with an error from hashing. Without unreported, files the
// backend did not report are left out instead of hashed: after a restore
// the backend stopped they are pieces it left behind (a decompression
// bomb's first gigabytes, say), not restored files.
func (c *collector) manifest(ctx context.Context, target string, unreported bool) (*manifest.Manifest, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Sorted by path; of a path reported twice, the later report counts.
	slices.SortStableFunc(c.reported, func(a, b reported) int { return strings.Compare(a.Path, b.Path) })
	files := c.reported[:0]
	for i, r := range c.reported {
		if i+1 < len(c.reported) && c.reported[i+1].Path == r.Path {
			continue
		}
		files = append(files, r)
	}
	c.reported = nil
	todo, mismatches, err := reconcile(target, files)
	if err != nil {
		return nil, nil, err
	}
	if !unreported {
		todo = todo[:0]
	}
	m := &manifest.Manifest{Entries: make([]manifest.Entry, 0, len(files)+len(todo))}
	for _, r := range files {
		if r.hashed {
			m.Entries = append(m.Entries, r.Entry)
		} else {
			todo = append(todo, r.Path)
		}
	}
	if len(todo) > 0 {
		pool := manifest.NewPool(ctx, target, 0)
		for _, p := range todo {
			pool.Add(p)
		}
		hm, err := pool.Wait()
		if err != nil {
			return nil, mismatches, err
		}
		m.Entries = append(m.Entries, hm.Entries...)
	}
	m.Sort()
	return m, mismatches, nil
}

// describeSource prints a source's location keys for messages.
func describeSource(src plugins.Source) string {
	var parts []string
	for _, k := range []string{"archive", "path", "dump", "repository"} {
		if s, ok := src[k].(string); ok && s != "" {
			parts = append(parts, k+" "+s)
		}
	}
	if len(parts) == 0 {
		return "(see config)"
	}
	return strings.Join(parts, ", ")
}

// ScratchRoot returns the scratch root of a state directory.
func ScratchRoot(stateDir string) string { return filepath.Join(stateDir, "scratch") }

// Hostname returns the host name for records, or "unknown".
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}
