package drills

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/drillhq/drill/plugins"
)

// restore restores the chosen point (or a slice of it) into scratch and
// records what the backend said (took).
func (dr *drillRun) restore(ctx context.Context) bool {
	dr.restoreStart = time.Now()
	dr.phase(PhaseRestore)
	resp, err := dr.restoreSlices(ctx, dr.restoreRequest())
	if err != nil {
		return false
	}
	dr.took(resp)
	return true
}

// restoreRequest asks for the chosen point.
func (dr *drillRun) restoreRequest() *plugins.RestoreRequest {
	return &plugins.RestoreRequest{
		Source: dr.src, PointID: dr.point.ID, Target: dr.sd.Target,
		MaxBytes: dr.r.Config.MaxScratchBytes, DrillName: dr.d.Name,
		DatabaseChecks: databaseChecks(dr.d.Checks),
	}
}

// took records what the backend said of its restore: its details, its
// problems (of the restore check), and which point it restored.
func (dr *drillRun) took(resp *plugins.RestoreResponse) {
	dr.resp = resp
	if s := dr.rec.Sample; s != nil {
		s.TotalFiles, s.TotalBytes, s.Depth = resp.TotalFiles, resp.TotalBytes, resp.SampleDepth
		dr.detail("sample", sampleDetail(s, resp, dr.empty))
	}
	for k, v := range resp.Details {
		if _, host := dr.rec.Details[k]; !host {
			dr.detail(k, v)
		}
	}
	if groups := dr.backendProblems("restore", resp.Problems); len(groups) > 0 {
		dr.restoreCauses = append(dr.restoreCauses, summary(dr.d.Backend, groups))
	}
	// A restore the backend could not carry out to its end (scratch full,
	// max_scratch_bytes, an unreadable format: a problem of kind error)
	// proves nothing about the backup: what came back is checksummed, but
	// not judged as if it were all there was ("nothing was restored",
	// missing paths and files would be reasons of the machine's making).
	dr.stopped = slices.ContainsFunc(resp.Problems, func(p plugins.Problem) bool { return p.Kind == plugins.ProblemError })
	if resp.Point.ID != "" && resp.Point.ID != dr.point.ID {
		dr.failRestore(fmt.Sprintf("the backend restored %q, not the restore point %q that was asked for", resp.Point.ID, dr.point.ID))
	}
	// Where paths and manifest entries are looked up: the restored point
	// says, where the backend knows it only once restored (restic: where
	// the snapshot's path is in its tree); else the listed point.
	dr.root = dr.point.Root
	if resp.Point.ID == dr.point.ID {
		dr.root = resp.Point.Root
	}
	dr.obs.Point.Root = dr.root
}

// failRestore records why the restore check fails.
func (dr *drillRun) failRestore(reason string) {
	dr.problem("restore", true, reason)
	dr.restoreCauses = append(dr.restoreCauses, reason)
}

// restoreSlices runs the restore; a sampled drill tries its slices in
// order until one holds any of the restore point's files: a slice that
// holds none proves nothing (a small backup, a large percent).
func (dr *drillRun) restoreSlices(ctx context.Context, req *plugins.RestoreRequest) (*plugins.RestoreResponse, error) {
	for i := 0; ; i++ {
		s := dr.rec.Sample
		if s != nil {
			s.Slice = dr.order[i]
			req.Sample = &plugins.Sample{Seed: s.Seed, Slice: s.Slice, Slices: s.Slices}
		}
		resp, err := dr.restoreOnce(ctx, req)
		if err != nil {
			return nil, err
		}
		if s == nil || resp.Files > 0 || resp.TotalFiles == 0 || len(resp.Problems) > 0 || i+1 == len(dr.order) {
			return resp, nil
		}
		dr.empty = append(dr.empty, req.Sample.String())
		dr.log.Info("sample slice holds no files; restoring the next", "slice", req.Sample.String())
		dr.col.reset()
		if err := dr.sd.Empty(); err != nil {
			dr.error(err.Error())
			return nil, err
		}
	}
}

// restoreOnce runs one Restore call under the stall detector: a restore
// whose progress stands still for stall_timeout is stopped long before
// the drill's timeout. A failed call is recorded and returned as an error.
func (dr *drillRun) restoreOnce(ctx context.Context, req *plugins.RestoreRequest) (*plugins.RestoreResponse, error) {
	rctx, stopRestore := context.WithCancelCause(ctx)
	defer stopRestore(nil)
	dr.col.stall = watchStall(dr.d.Backend, dr.d.StallTimeout, stopRestore, req.Newest)
	resp, err := dr.b.Restore(rctx, req, dr.col)
	dr.col.stall.stop()
	if err != nil {
		var stalled *stallError
		switch {
		case ctx.Err() != nil:
			// The drill's timeout or an interrupt: run says which.
		case errors.As(context.Cause(rctx), &stalled):
			dr.error(stalled.Error())
		default:
			dr.error(fmt.Sprintf("restore (backend %s): %v", dr.d.Backend, err))
		}
		return nil, err
	}
	return resp, nil
}
