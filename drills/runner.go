package drills

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/human"
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
	"github.com/drillhq/drill/internal/scratch"
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
	// Phase is "launch", "list", "restore", "verify" or "check".
	Phase string
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

// run carries out one drill and returns its record, unsigned.
func (r *Runner) run(parent context.Context, d *config.Drill) *record.Record {
	svc := r.Config.Services[d.Service]
	log := r.logger().With("drill", d.Name)
	rec := &record.Record{
		Drill:        d.Name,
		Service:      d.Service,
		Backend:      d.Backend,
		Host:         r.Host,
		Started:      r.now().UTC(),
		Checks:       []record.Check{},
		DrillVersion: r.Version,
	}
	if svc != nil {
		rec.RPOSeconds, rec.RTOSeconds = svc.RPO.Seconds(), svc.RTO.Seconds()
	}
	// Every record says which confinement the plugin ran under; confine
	// replaces this once the plugin has said.
	rec.Details = map[string]string{"sandbox": "none: the drill ended before its plugin process confined itself"}
	o := &outcome{}
	if r.Marks != nil {
		err := r.Marks.NoteRunning(evidence.Running{Drill: d.Name, Service: d.Service, Backend: d.Backend,
			Host: r.Host, Started: rec.Started, PID: os.Getpid()})
		if err != nil {
			// Without a marker a crash would leave no trace: do not start.
			o.error(fmt.Sprintf("could not write the drill's start marker to the state store, so nothing was restored: %v", err))
			rec.Verdict, rec.Reasons = o.verdict()
			rec.Finished = r.now().UTC()
			return rec
		}
	}
	ctx, cancel := context.WithTimeoutCause(parent, d.Timeout, errTimeout)
	defer cancel()

	st := &state{phase: "launch"}
	r.execute(ctx, d, svc, rec, o, st, log)

	// Why the context ended decides between fail (a restore too slow for
	// its timeout), error (a backend that stopped answering) and interrupted.
	if ctx.Err() != nil {
		switch {
		case parent.Err() != nil:
			o.interrupted = "the drill was interrupted before it finished (" + context.Cause(parent).Error() + ")"
		case errors.Is(context.Cause(ctx), errTimeout):
			phase, events := st.get()
			switch {
			case phase == "launch":
				o.error(fmt.Sprintf("backend %s did not answer within the drill's timeout of %s (while starting)", d.Backend, human.Duration(d.Timeout)))
			case phase == "confine":
				o.error(fmt.Sprintf("backend %s did not answer within the drill's timeout of %s (while confining its plugin process, which runs a password_command first)", d.Backend, human.Duration(d.Timeout)))
			case phase == "list":
				o.error(fmt.Sprintf("backend %s did not answer within the drill's timeout of %s (while listing restore points)", d.Backend, human.Duration(d.Timeout)))
			case phase == "restore" && !events:
				o.error(fmt.Sprintf("backend %s stopped responding: no progress from the restore within the drill's timeout of %s", d.Backend, human.Duration(d.Timeout)))
			default:
				o.fail(fmt.Sprintf("the drill did not finish within its timeout of %s (during %s)", human.Duration(d.Timeout), phase))
			}
		}
	}
	rec.Verdict, rec.Reasons = o.verdict()
	rec.Finished = r.now().UTC()
	log.Info("drill finished", "verdict", rec.Verdict, "duration", rec.Finished.Sub(rec.Started).Round(time.Millisecond).String(), "reasons", rec.Reasons)
	return rec
}

// execute runs the steps of a drill, recording what it finds in rec and o.
// It returns early when a step makes the rest pointless.
func (r *Runner) execute(ctx context.Context, d *config.Drill, svc *config.Service, rec *record.Record, o *outcome, st *state, log *slog.Logger) {
	r.progress(Progress{Drill: d.Name, Phase: "launch"})
	b, err := r.Launcher.Launch(ctx, d.Backend)
	if err != nil {
		o.error(fmt.Sprintf("start backend %s: %v", d.Backend, err))
		return
	}
	defer func() {
		if err := b.Close(); err != nil {
			log.Warn("stop backend plugin", "backend", d.Backend, "err", err)
		}
	}()
	src, desc, errs := prepare(ctx, r.Config, d, b)
	if len(errs) > 0 {
		for _, e := range errs {
			o.error("configuration: " + e.Error())
		}
		return
	}
	rec.SourceSHA256 = sourceDigest(d.Backend, src)

	// The run's scratch directory exists before anything reads the
	// backup: the plugin confines itself to it (and to its source).
	sd, err := scratch.New(r.ScratchRoot, d.Name)
	if err != nil {
		o.error(err.Error())
		return
	}
	defer func() {
		if err := sd.Remove(); err != nil {
			log.Error("scratch space not removed; remove it by hand", "path", sd.Path, "err", err)
			if rec.Details == nil {
				rec.Details = map[string]string{}
			}
			rec.Details["scratch_cleanup"] = err.Error()
		}
	}()
	st.set("confine")
	if !r.confine(ctx, d, b, src, sd, rec, o) {
		return
	}

	st.set("list")
	r.progress(Progress{Drill: d.Name, Phase: "list"})
	list, err := b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		o.error(fmt.Sprintf("list restore points (backend %s): %v", d.Backend, err))
		return
	}
	problems(list.Problems, o)
	obs := &Observation{Drill: d.Name, Points: list.Points}
	if r.Observe != nil {
		defer r.Observe(obs)
	}
	if len(list.Points) == 0 {
		o.fail(fmt.Sprintf("no restore point found (backend %s, source %s)", d.Backend, describeSource(src)))
		r.vanished(d, desc, rec, list.Points, nil, o, log)
		return
	}
	point := list.Points[0]
	for _, p := range list.Points[1:] {
		if p.Time.After(point.Time) {
			point = p
		}
	}
	// The RPO is judged on the newest point, the one a recovery now would
	// use; with restore_point.random_within an older one may be restored,
	// as an auditor samples.
	rec.BackupAgeSeconds = rec.Started.Sub(point.Time).Seconds()
	basis := timeBasis(point)
	if rec.Details == nil {
		rec.Details = map[string]string{}
	}
	rec.Details["backup_time_basis"] = basis
	r.vanished(d, desc, rec, list.Points, &point, o, log)
	newest := point
	if d.RandomWithin > 0 {
		var cands []plugins.RestorePoint
		for _, p := range list.Points {
			if rec.Started.Sub(p.Time) <= d.RandomWithin {
				cands = append(cands, p)
			}
		}
		if len(cands) > 0 {
			slices.SortStableFunc(cands, func(a, b plugins.RestorePoint) int { return a.Time.Compare(b.Time) })
			point = cands[r.randN(len(cands))]
			if rec.Details == nil {
				rec.Details = map[string]string{}
			}
			rec.Details["restore_point_choice"] = fmt.Sprintf("random within %s: %s, one of %d points; the RPO is judged on the newest, %s of %s",
				human.Duration(d.RandomWithin), point.ID, len(cands), newest.ID, newest.Time.UTC().Format(time.RFC3339))
		}
	}
	rec.RestorePoint = record.RestorePoint{ID: point.ID, Time: point.Time.UTC(), Description: point.Description}
	obs.Point = point

	col := &collector{drill: d.Name, backend: d.Backend, src: src, runner: r, st: st}
	defer func() {
		// Cleanup runs even when ctx is done, with its own short deadline.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := b.Cleanup(cctx, &plugins.CleanupRequest{Source: src, Target: sd.Target, DrillName: d.Name}); err != nil {
			o.error(fmt.Sprintf("clean up after the restore (backend %s): %v", d.Backend, err))
			return
		}
		for _, name := range col.announced() {
			if err := r.Scratch.ScratchDone(d.Backend, name); err != nil {
				log.Warn("forget a removed scratch resource", "name", name, "err", err)
			}
		}
	}()

	// A sampled drill restores the slice least recently proven; one that
	// restores everything first checks that it fits (after Cleanup is
	// deferred: a backend may have work under way since the listing).
	var order []int
	if d.Sample != nil {
		if order, err = r.sliceOrder(d, rec.SourceSHA256); err != nil {
			o.error(err.Error())
			return
		}
		rec.Sample = &record.Sample{Percent: d.Sample.Percent, Seed: d.Sample.Seed, Slices: d.Sample.Slices()}
	} else if msg := preflight(desc, point, r.Config.MaxScratchBytes, r.ScratchRoot); msg != "" {
		o.error(msg)
		return
	}

	restoreStart := time.Now()
	// The restore check is about what happens from here on.
	failsBefore, errsBefore := len(o.fails), len(o.errs)
	st.set("restore")
	r.progress(Progress{Drill: d.Name, Phase: "restore"})
	req := &plugins.RestoreRequest{
		Source: src, PointID: point.ID, Target: sd.Target,
		MaxBytes: r.Config.MaxScratchBytes, DrillName: d.Name,
		DatabaseChecks: databaseChecks(d.Checks),
	}
	var resp *plugins.RestoreResponse
	var empty []string
	for i := 0; ; i++ {
		if rec.Sample != nil {
			rec.Sample.Slice = order[i]
			req.Sample = &plugins.Sample{Seed: rec.Sample.Seed, Slice: order[i], Slices: rec.Sample.Slices}
		}
		if resp, err = r.restore(ctx, b, d, req, col, o); err != nil {
			return
		}
		// A slice that holds none of the restore point's files proves
		// nothing: restore the next one (a small backup, a large percent).
		if rec.Sample == nil || resp.Files > 0 || resp.TotalFiles == 0 || len(resp.Problems) > 0 || i+1 == len(order) {
			break
		}
		empty = append(empty, req.Sample.String())
		log.Info("sample slice holds no files; restoring the next", "slice", req.Sample.String())
		col.reset()
		if err := sd.Empty(); err != nil {
			o.error(err.Error())
			return
		}
	}
	if rec.Details == nil && (rec.Sample != nil || len(resp.Details) > 0) {
		rec.Details = map[string]string{}
	}
	if rec.Sample != nil {
		rec.Sample.TotalFiles, rec.Sample.TotalBytes, rec.Sample.Depth = resp.TotalFiles, resp.TotalBytes, resp.SampleDepth
		rec.Details["sample"] = sampleDetail(rec.Sample, resp, empty)
	}
	for k, v := range resp.Details {
		if _, host := rec.Details[k]; !host {
			rec.Details[k] = v
		}
	}
	problems(resp.Problems, o)
	// A restore the backend could not carry out to its end (scratch full,
	// max_scratch_bytes, an unreadable format: a problem of kind error)
	// proves nothing about the backup: what came back is checksummed, but
	// not judged as if it were all there was ("nothing was restored",
	// missing paths and files would be reasons of the machine's making).
	stopped := slices.ContainsFunc(resp.Problems, func(p plugins.Problem) bool { return p.Kind == plugins.ProblemError })
	if resp.Point.ID != "" && resp.Point.ID != point.ID {
		o.fail(fmt.Sprintf("the backend restored %q, not the restore point %q that was asked for", resp.Point.ID, point.ID))
	}
	// Where paths and manifest entries are looked up: the restored point
	// says, where the backend knows it only once restored (restic: where
	// the snapshot's path is in its tree); else the listed point.
	root := point.Root
	if resp.Point.ID == point.ID {
		root = resp.Point.Root
	}
	obs.Point.Root = root

	// The checksums of what came back: digests the backend computed while
	// it wrote, and the host's own for any file it did not report.
	st.set("verify")
	r.progress(Progress{Drill: d.Name, Phase: "verify"})
	database := desc.Kind == plugins.KindDatabase
	var got *manifest.Manifest
	var detail string
	if database {
		// A database's manifest is its tables: name, rows, fingerprint.
		got = tableManifest(resp.Tables)
		var rows int64
		for _, t := range resp.Tables {
			rec.Tables = append(rec.Tables, record.Table{Name: t.Name, Rows: t.Rows, Fingerprint: t.Fingerprint})
			rows += t.Rows
		}
		rec.Files, rec.Bytes = int64(len(resp.Tables)), resp.Bytes
		detail = fmt.Sprintf("%d tables, %d rows restored and fingerprinted", rec.Files, rows)
	} else {
		var err error
		got, err = col.manifest(ctx, sd.Target, o, !stopped)
		if err != nil {
			if ctx.Err() == nil {
				o.error(fmt.Sprintf("checksum the restored files: %v", err))
			}
			return
		}
		rec.Files, rec.Bytes = int64(len(got.Entries)), got.TotalBytes()
		obs.Restored = got
		detail = fmt.Sprintf("%d files, %s restored and checksummed", rec.Files, human.Size(rec.Bytes))
	}
	rec.ManifestSHA256 = fmt.Sprintf("%x", got.Digest())
	o.restored = true
	// Everything restored is now checksummed (and, for files, reconciled
	// with what the backend reported): the least check a drill makes.
	o.checked = true
	rec.Checks = append(rec.Checks, record.Check{Name: "restore", OK: len(o.fails) == failsBefore && len(o.errs) == errsBefore, Detail: detail})
	if rec.Files == 0 && !stopped {
		what := "files"
		if database {
			what = "tables"
		}
		if rec.Sample != nil && rec.Sample.TotalFiles > 0 {
			o.fail(fmt.Sprintf("nothing was restored: no slice of the sample held any of the %d files restore point %s lists", rec.Sample.TotalFiles, point.ID))
		} else {
			o.fail(fmt.Sprintf("nothing was restored: restore point %s holds no %s", point.ID, what))
		}
	}
	// The checks the backend made with the backup's own means.
	for _, c := range resp.Checks {
		rec.Checks = append(rec.Checks, record.Check{Name: c.Name, OK: c.OK, Detail: c.Detail})
		if !c.OK {
			o.fail(fmt.Sprintf("check %s: %s", c.Name, c.Detail))
		}
	}

	st.set("check")
	r.progress(Progress{Drill: d.Name, Phase: "check"})
	if !database && !stopped {
		rec.Checks = append(rec.Checks, fileChecks(d, rec, sd.Target, root, got, o)...)
	}
	restoreTime := time.Since(restoreStart)
	rec.RestoreSeconds = restoreTime.Seconds()
	rec.Checks = append(rec.Checks, serviceChecks(svc, time.Duration(rec.BackupAgeSeconds*float64(time.Second)), basis, restoreTime, o)...)
}

// confiner is a Backend whose plugin process can confine itself; every
// plugins.Client is one.
type confiner interface {
	Confine(ctx context.Context, req *plugins.ConfineRequest) (*plugins.ConfineResponse, error)
}

// confine has the plugin process confine itself to the drill's source and
// scratch directory sd, with sd/tmp as its TMPDIR, before anything reads
// the backup, and records in rec.Details["sandbox"] which confinement is
// in force. It returns false when the drill must stop: the plugin could not
// be confined and the drill has require_sandbox set, or Confine failed.
func (r *Runner) confine(ctx context.Context, d *config.Drill, b Backend, src plugins.Source, sd *scratch.Dir, rec *record.Record, o *outcome) bool {
	tmp := filepath.Join(sd.Path, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		o.error(fmt.Sprintf("create the plugin's temporary directory: %v", err))
		return false
	}
	conf := &plugins.ConfineResponse{Summary: plugins.NotConfining}
	if c, ok := b.(confiner); ok {
		resp, err := c.Confine(ctx, &plugins.ConfineRequest{Source: src, Scratch: sd.Path, Temp: tmp})
		if err != nil {
			rec.Details["sandbox"] = "none: the plugin could not confine itself"
			o.error(fmt.Sprintf("confine backend %s to its sources and scratch space: %v", d.Backend, err))
			return false
		}
		conf = resp
	}
	rec.Details["sandbox"] = textsafe.Escape(conf.Summary)
	if d.RequireSandbox && !conf.Confined() {
		o.error(fmt.Sprintf("require_sandbox is set but backend %s's plugin process could not confine itself (%s); nothing was restored",
			d.Backend, rec.Details["sandbox"]))
		return false
	}
	return true
}

// restore runs one Restore call under the stall detector: a restore whose
// progress stands still for stall_timeout is stopped long before the
// drill's timeout. A failed call is recorded in o and returned as an error.
func (r *Runner) restore(ctx context.Context, b Backend, d *config.Drill, req *plugins.RestoreRequest, col *collector, o *outcome) (*plugins.RestoreResponse, error) {
	rctx, stopRestore := context.WithCancelCause(ctx)
	defer stopRestore(nil)
	col.stall = watchStall(d.Backend, d.StallTimeout, stopRestore)
	resp, err := b.Restore(rctx, req, col)
	col.stall.stop()
	if err != nil {
		var stalled *stallError
		switch {
		case ctx.Err() != nil:
			// The drill's timeout or an interrupt: run says which.
		case errors.As(context.Cause(rctx), &stalled):
			o.error(stalled.Error())
		default:
			o.error(fmt.Sprintf("restore (backend %s): %v", d.Backend, err))
		}
		return nil, err
	}
	return resp, nil
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

// problems turns a backend's problems into fail and error reasons.
func problems(ps []plugins.Problem, o *outcome) {
	for _, p := range ps {
		msg := p.Message
		if p.Path != "" && !strings.Contains(msg, p.Path) {
			msg = fmt.Sprintf("%q: %s", p.Path, msg)
		}
		if p.Kind == plugins.ProblemFail {
			o.fail(msg)
		} else {
			o.error(msg)
		}
	}
}

// vanished fails the drill when the newest restore point an earlier drill
// of the same source saw is no longer listed and nothing as new replaced
// it: a deleted newest snapshot, which restic itself cannot notice
// (`latest` silently becomes an older one and every check passes). The
// failure lasts until a restore point at least as new as the vanished one
// is listed again. newest is the newest point listed now, nil for none.
func (r *Runner) vanished(d *config.Drill, desc *plugins.DescribeResponse, rec *record.Record, listed []plugins.RestorePoint, newest *plugins.RestorePoint, o *outcome, log *slog.Logger) {
	if r.Recorder == nil {
		return
	}
	seen, ok, err := r.Recorder.NewestPoint(d.Name, rec.SourceSHA256)
	if err != nil {
		o.error(fmt.Sprintf("read what earlier drills saw from the evidence log: %v", err))
		return
	}
	if !ok || newest != nil && !newest.Time.Before(seen.Time) {
		return
	}
	for _, p := range listed {
		if p.ID == seen.ID {
			return
		}
	}
	noun, store := desc.PointNoun, desc.StoreNoun
	if noun == "" {
		noun = "restore point"
	}
	if store == "" {
		store = "backup"
	}
	now := "none is listed now"
	if newest != nil {
		now = fmt.Sprintf("the newest now is %s of %s", newest.ID, newest.Time.UTC().Format(time.RFC3339))
	}
	log.Warn("newest restore point vanished", "point", seen.ID, "seen_in_record", seen.LogIndex)
	o.fail(fmt.Sprintf("%s %s of %s has vanished from the %s (record %d saw it; %s)",
		noun, seen.ID, seen.Time.UTC().Format(time.RFC3339), store, seen.LogIndex, now))
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

// state is where a drill is, for deciding what a timeout means.
type state struct {
	mu    sync.Mutex
	phase string
	// heard is set once the restore reported anything.
	heard bool
}

func (s *state) set(phase string) {
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
}

func (s *state) event() {
	s.mu.Lock()
	s.heard = true
	s.mu.Unlock()
}

// get returns the phase and whether the restore reported anything.
func (s *state) get() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase, s.heard
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
	c.runner.progress(Progress{Drill: c.drill, Phase: "restore", Progress: p})
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
// the manifest of everything restored. Without unreported, files the
// backend did not report are left out instead of hashed: after a restore
// the backend stopped they are pieces it left behind (a decompression
// bomb's first gigabytes, say), not restored files.
func (c *collector) manifest(ctx context.Context, target string, o *outcome, unreported bool) (*manifest.Manifest, error) {
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
	todo, err := reconcile(target, files, o)
	if err != nil {
		return nil, err
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
			return nil, err
		}
		m.Entries = append(m.Entries, hm.Entries...)
	}
	m.Sort()
	return m, nil
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
