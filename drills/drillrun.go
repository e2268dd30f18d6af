package drills

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/scratch"
	"github.com/drillhq/drill/plugins"
)

// Phase is where a running drill is, as Progress reports it; a timeout
// is judged by the phase it ended.
type Phase string

// The phases of a drill, in order.
const (
	// PhaseLaunch starts the backend's plugin process.
	PhaseLaunch Phase = "launch"
	// PhaseConfine confines it to its sources and scratch space.
	PhaseConfine Phase = "confine"
	// PhaseList lists the restore points.
	PhaseList Phase = "list"
	// PhaseRestore restores into scratch space (Progress then carries
	// the backend's progress).
	PhaseRestore Phase = "restore"
	// PhaseVerify checksums what came back.
	PhaseVerify Phase = "verify"
	// PhaseCheck runs the checks.
	PhaseCheck Phase = "check"
)

// drillRun is one run of one drill. Its steps are its methods, run in
// order by execute: each decides one thing, records it in rec and found,
// and leaves what the next step needs; one that makes the rest pointless
// returns false.
type drillRun struct {
	r     *Runner
	d     *config.Drill
	svc   *config.Service
	rec   *record.Record
	log   *slog.Logger
	st    *state
	found findings

	b    Backend
	src  plugins.Source
	desc *plugins.DescribeResponse
	sd   *scratch.Dir
	obs  *Observation
	col  *collector
	// point is the restore point restored; basis what its time is.
	point plugins.RestorePoint
	basis string
	// order is the order a sampled drill tries its slices in.
	order []int
	// resp is the restore's response, of the slice kept when sampled;
	// empty names the slices that held no files.
	resp  *plugins.RestoreResponse
	empty []string
	// stopped is set when the backend could not carry the restore to its
	// end (a problem of kind error: scratch full, max_scratch_bytes).
	stopped bool
	// root is where names are looked up in the restore; got is the
	// manifest of what was restored.
	root string
	got  *manifest.Manifest
	// restorePointCauses and restoreCauses say why the restore_point and
	// restore checks failed, for their details.
	restorePointCauses []string
	restoreCauses      []string
	restoreStart       time.Time
}

// problem records a problem of check (see problem).
func (dr *drillRun) problem(check string, fail bool, reason string) {
	dr.found.problems = append(dr.found.problems, problem{check: check, fail: fail, reason: reason})
}

// error records an error of no check: the drill could not go on.
func (dr *drillRun) error(reason string) { dr.problem("", false, reason) }

// backendProblems records a backend's problems as problems of check,
// grouped (groupProblems), and returns the groups.
func (dr *drillRun) backendProblems(check string, ps []plugins.Problem) []problemGroup {
	groups := groupProblems(ps)
	for _, g := range groups {
		dr.problem(check, g.kind == plugins.ProblemFail, g.reason())
	}
	if all := problemPaths(groups); all != "" {
		dr.detail(check+"_problem_paths", all)
	}
	return groups
}

// detail sets a record detail.
func (dr *drillRun) detail(key, value string) {
	if dr.rec.Details == nil {
		dr.rec.Details = map[string]string{}
	}
	dr.rec.Details[key] = value
}

func (dr *drillRun) phase(p Phase) {
	dr.st.set(p)
	dr.r.progress(Progress{Drill: dr.d.Name, Phase: p})
}

// run carries out one drill and returns its record, unsigned.
func (r *Runner) run(parent context.Context, d *config.Drill) *record.Record {
	dr := &drillRun{r: r, d: d, svc: r.Config.Services[d.Service], log: r.logger().With("drill", d.Name), st: &state{phase: PhaseLaunch}}
	dr.rec = &record.Record{
		Drill: d.Name, Service: d.Service, Backend: d.Backend, Host: r.Host,
		Started: r.now().UTC(), Checks: []record.Check{}, DrillVersion: r.Version,
		// Every record says which confinement the plugin ran under;
		// confine replaces this once the plugin has said.
		Details: map[string]string{"sandbox": "none: the drill ended before its plugin process confined itself"},
	}
	if dr.svc != nil {
		dr.rec.RPOSeconds, dr.rec.RTOSeconds = dr.svc.RPO.Seconds(), dr.svc.RTO.Seconds()
	}
	if dr.mark() {
		ctx, cancel := context.WithTimeoutCause(parent, d.Timeout, errTimeout)
		dr.execute(ctx)
		dr.ended(parent, ctx)
		cancel()
	}
	rec := dr.rec
	rec.Checks = append(rec.Checks, dr.found.checks...)
	rec.Verdict, rec.Reasons = verdict(dr.found)
	rec.Finished = r.now().UTC()
	dr.log.Info("drill finished", "verdict", rec.Verdict, "duration", rec.Finished.Sub(rec.Started).Round(time.Millisecond).String(), "reasons", rec.Reasons)
	return rec
}

// mark writes the drill's start marker; without one a crash would leave
// no trace, so the drill does not start.
func (dr *drillRun) mark() bool {
	if dr.r.Marks == nil {
		return true
	}
	err := dr.r.Marks.NoteRunning(evidence.Running{Drill: dr.d.Name, Service: dr.d.Service, Backend: dr.d.Backend,
		Host: dr.r.Host, Started: dr.rec.Started, PID: os.Getpid()})
	if err != nil {
		dr.error(fmt.Sprintf("could not write the drill's start marker to the state store, so nothing was restored: %v", err))
		return false
	}
	return true
}

// execute runs the steps of a drill, each undoing what it set up when
// the drill ends (in reverse order).
func (dr *drillRun) execute(ctx context.Context) {
	if !dr.launch(ctx) {
		return
	}
	defer dr.closeBackend()
	if !dr.prepare(ctx) {
		return
	}
	defer dr.removeScratch()
	if !dr.confine(ctx) {
		return
	}
	if dr.r.Observe != nil {
		defer func() {
			if dr.obs != nil { // nil when no restore point was listed or restored
				dr.r.Observe(dr.obs)
			}
		}()
	}
	defer func() {
		if dr.col != nil { // a Restore was asked for
			dr.cleanup(ctx)
		}
	}()
	if !dr.restorePoint(ctx) || !dr.verify(ctx) {
		return
	}
	dr.check()
}

// restorePoint chooses the restore point and restores it: in one call
// where the backend restores its newest point itself (restoreNewest),
// otherwise listed first, chosen, and restored by its ID.
func (dr *drillRun) restorePoint(ctx context.Context) bool {
	if dr.asksNewest() {
		dr.col = dr.newCollector()
		if done, ok := dr.restoreNewest(ctx); done {
			return ok
		}
	}
	if !dr.listPoints(ctx) || !dr.choosePoint() {
		return false
	}
	if dr.col == nil {
		dr.col = dr.newCollector()
	}
	return dr.plan() && dr.restore(ctx)
}

func (dr *drillRun) newCollector() *collector {
	return &collector{drill: dr.d.Name, backend: dr.d.Backend, src: dr.src, runner: dr.r, st: dr.st}
}

// ended decides what the end of the drill's context means: an interrupt
// from outside, or the drill's timeout, which is a fail (a restore too
// slow for its timeout: the timeout check) or an error (a backend that
// stopped answering), by the phase it ended.
func (dr *drillRun) ended(parent, ctx context.Context) {
	if ctx.Err() == nil {
		return
	}
	if parent.Err() != nil {
		dr.found.interrupted = "the drill was interrupted before it finished (" + context.Cause(parent).Error() + ")"
		return
	}
	if !errors.Is(context.Cause(ctx), errTimeout) {
		return
	}
	phase, heard := dr.st.get()
	within := fmt.Sprintf("backend %s did not answer within the drill's timeout of %s", dr.d.Backend, human.Duration(dr.d.Timeout))
	switch {
	case phase == PhaseLaunch:
		dr.error(within + " (while starting)")
	case phase == PhaseConfine:
		dr.error(within + " (while confining its plugin process, which runs a password_command first)")
	case phase == PhaseList:
		dr.error(within + " (while listing restore points)")
	case phase == PhaseRestore && !heard:
		dr.error(fmt.Sprintf("backend %s stopped responding: no progress from the restore within the drill's timeout of %s", dr.d.Backend, human.Duration(dr.d.Timeout)))
	default:
		dr.found.checks = append(dr.found.checks, record.Check{Name: "timeout", OK: false,
			Detail: fmt.Sprintf("the drill did not finish within its timeout of %s (during %s)", human.Duration(dr.d.Timeout), phase)})
	}
}

// launch starts the drill's backend.
func (dr *drillRun) launch(ctx context.Context) bool {
	dr.r.progress(Progress{Drill: dr.d.Name, Phase: PhaseLaunch})
	var err error
	if dr.b, err = dr.r.Launcher.Launch(ctx, dr.d.Backend); err != nil {
		dr.error(fmt.Sprintf("start backend %s: %v", dr.d.Backend, err))
	}
	return err == nil
}

func (dr *drillRun) closeBackend() {
	if err := dr.b.Close(); err != nil {
		dr.log.Warn("stop backend plugin", "backend", dr.d.Backend, "err", err)
	}
}

// prepare resolves the drill's source against its backend and makes the
// run's scratch directory, before anything reads the backup: the plugin
// confines itself to it (and to its source).
func (dr *drillRun) prepare(ctx context.Context) bool {
	src, desc, errs := prepare(ctx, dr.r.Config, dr.d, dr.b)
	if len(errs) > 0 {
		for _, e := range errs {
			dr.error("configuration: " + e.Error())
		}
		return false
	}
	dr.src, dr.desc = src, desc
	dr.rec.SourceSHA256 = sourceDigest(dr.d.Backend, src)
	sd, err := scratch.New(dr.r.ScratchRoot, dr.d.Name)
	if err != nil {
		dr.error(err.Error())
		return false
	}
	dr.sd = sd
	return true
}

func (dr *drillRun) removeScratch() {
	if err := dr.sd.Remove(); err != nil {
		dr.log.Error("scratch space not removed; remove it by hand", "path", dr.sd.Path, "err", err)
		dr.detail("scratch_cleanup", err.Error())
	}
}

// listPoints lists the backup's restore points; what the listing found
// wrong is a problem of the restore_point check.
func (dr *drillRun) listPoints(ctx context.Context) bool {
	dr.phase(PhaseList)
	list, err := dr.b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: dr.src})
	if err != nil {
		dr.error(fmt.Sprintf("list restore points (backend %s): %v", dr.d.Backend, err))
		return false
	}
	dr.obs = &Observation{Drill: dr.d.Name, Points: list.Points}
	if groups := dr.backendProblems("restore_point", list.Problems); len(groups) > 0 {
		dr.restorePointCauses = append(dr.restorePointCauses, "listing: "+summary(dr.d.Backend, groups))
	}
	return true
}

// cleanup has the backend clean up after the restore, even when ctx is
// done (with its own short deadline), and forgets the scratch resources
// whose removal it confirmed.
func (dr *drillRun) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := dr.b.Cleanup(cctx, &plugins.CleanupRequest{Source: dr.src, Target: dr.sd.Target, DrillName: dr.d.Name}); err != nil {
		dr.error(fmt.Sprintf("clean up after the restore (backend %s): %v", dr.d.Backend, err))
		return
	}
	for _, name := range dr.col.announced() {
		if err := dr.r.Scratch.ScratchDone(dr.d.Backend, name); err != nil {
			dr.log.Warn("forget a removed scratch resource", "name", name, "err", err)
		}
	}
}

// plan decides what is restored: a sampled drill restores the slice least
// recently proven; one that restores everything first checks that it fits
// (after Cleanup is deferred: a backend may have work under way since the
// listing).
func (dr *drillRun) plan() bool {
	if dr.d.Sample == nil {
		if msg := preflight(dr.desc, dr.point, dr.r.Config.MaxScratchBytes, dr.r.ScratchRoot); msg != "" {
			dr.error(msg)
			return false
		}
		return true
	}
	order, err := dr.r.sliceOrder(dr.d, dr.rec.SourceSHA256)
	if err != nil {
		dr.error(err.Error())
		return false
	}
	dr.order = order
	dr.rec.Sample = &record.Sample{Percent: dr.d.Sample.Percent, Seed: dr.d.Sample.Seed, Slices: dr.d.Sample.Slices()}
	return true
}

// state is where a drill is, for deciding what a timeout means.
type state struct {
	mu    sync.Mutex
	phase Phase
	// heard is set once the restore reported anything.
	heard bool
}

func (s *state) set(phase Phase) {
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
func (s *state) get() (Phase, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase, s.heard
}
