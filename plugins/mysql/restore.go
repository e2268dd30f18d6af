package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/restoreevents"
)

// Restore restores one dump into a fresh scratch database: it checks the
// dump's checksum sidecar, streams the dump through the filter to the
// client, then fingerprints the tables and runs the drill's checks.
func (b *Backend) Restore(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	s, err := validSource(req.Source)
	if err != nil {
		return nil, err
	}
	// Say at once that the restore has started (see plugins.RestoreEvents).
	if err := events.Progress(plugins.Progress{FilesTotal: -1, BytesTotal: -1}); err != nil {
		return nil, err
	}
	// Restore only what the glob lists: a point ID is a path, and must
	// not reach files the source does not name.
	if ok, _ := filepath.Match(s.glob, req.PointID); !ok {
		return nil, fmt.Errorf("restore point %q does not match dump %q", req.PointID, s.glob)
	}
	binary, err := s.clientBinary()
	if err != nil {
		return nil, err
	}
	srv, err := s.withPassword()
	if err != nil {
		return nil, err
	}

	resp := &plugins.RestoreResponse{Details: map[string]string{}}
	d, err := openPoint(req.PointID, resp)
	if d == nil {
		return failed(resp, req.PointID, err)
	}
	defer d.Close()
	name, user, err := b.prepareScratch(ctx, srv, req, events, resp)
	if err != nil {
		return nil, err
	}
	guards := guardsOf(ctx, binary)
	resp.Details["client_guards"] = guards.String()

	rep := restoreevents.New(events, restoreevents.BytesProgress(d.size, d.read.Load))
	f := &filter{maxBytes: req.MaxBytes, tick: func() { _ = rep.Tick() }}
	res, feedErr := runClient(ctx, binary, guards, user.srv, name, func(w io.Writer) error { return f.run(req.PointID, d.r, w) })
	_ = rep.Close()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore dump %s: %w", req.PointID, err)
	}
	if res == nil { // the client could not be started
		return nil, feedErr
	}
	if r := f.rewritten(); r != "" {
		resp.Details["rewritten"] = r
	}
	if ok, err := judgeClient(req.PointID, name, d, f, res, feedErr, resp); !ok || err != nil {
		return failed(resp, req.PointID, err)
	}
	if err := b.inspect(ctx, user.srv, name, req.DatabaseChecks, resp); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("restore dump %s: %w", req.PointID, ctx.Err())
		}
		return nil, err
	}
	return resp, nil
}

// failed ends a restore: with err as one of resp's problems when it says
// something about the dump (problemOf), or as the drill's error; nil err
// returns resp as it is.
func failed(resp *plugins.RestoreResponse, point string, err error) (*plugins.RestoreResponse, error) {
	if err == nil {
		return resp, nil
	}
	if p, ok := problemOf(err, point); ok {
		resp.Problems = append(resp.Problems, p)
		return resp, nil
	}
	return nil, err
}

// openPoint opens the dump at point and describes it in resp. A nil dump
// comes with the error.
func openPoint(point string, resp *plugins.RestoreResponse) (*dump, error) {
	d, err := openDump(point)
	if err != nil {
		return nil, err
	}
	resp.Point = plugins.RestorePoint{ID: point, Size: d.size, Files: -1, Description: "dump " + filepath.Base(point)}
	if fi, err := d.f.Stat(); err == nil {
		resp.Point.Time, resp.Point.TimeBasis = fi.ModTime(), plugins.BasisDumpMtime
	}
	resp.Bytes = d.size
	if d.tool != "" {
		resp.Details["dump_tool"] = d.tool
	}
	return d, nil
}

// prepareScratch names the scratch database, announces it, and creates
// the user the restore runs as, on srv.
func (b *Backend) prepareScratch(ctx context.Context, srv *server, req *plugins.RestoreRequest, events plugins.RestoreEvents, resp *plugins.RestoreResponse) (string, *restoreUser, error) {
	pool, err := srv.connect(ctx, "")
	if err != nil {
		return "", nil, err
	}
	defer pool.Close()
	var version string
	if err := pool.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", nil, fmt.Errorf("ask server %s for its version: %w", srv, err)
	}
	resp.Details["server_version"] = version

	// One name for the scratch database and the user the restore runs
	// as: both are dropped by Cleanup, also after a crash, by that name.
	name := scratchdb.Name(req.DrillName, maxUserLen)
	if err := events.Scratch(name); err != nil {
		return "", nil, fmt.Errorf("announce scratch database %s: %w", name, err)
	}
	b.scratch.Remember(name, srv)
	user, err := createRestoreUser(ctx, srv, pool, name, version)
	if err != nil {
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		return "", nil, err
	}
	resp.Details["scratch_database"] = name
	resp.Details["restore_user"] = user.String() + " (all privileges on the scratch database, nothing else)"
	return name, user, nil
}

// judgeClient turns the client's run (res) and the filter's (f, feedErr)
// into resp's problems. It returns true when the restore went through and
// the scratch database is worth inspecting; false, or an error for
// failed, when not.
func judgeClient(point, name string, d *dump, f *filter, res *clientResult, feedErr error, resp *plugins.RestoreResponse) (bool, error) {
	var we *writeError
	if _, ok := problemOf(feedErr, point); ok {
		return false, feedErr
	}
	if feedErr != nil && !errors.As(feedErr, &we) {
		return false, feedErr
	}
	truncated := plugins.Problem{Kind: plugins.ProblemFail, Path: point,
		Message: fmt.Sprintf("dump %s ends without the dump tool's \"-- Dump completed\" line: it is truncated", point)}
	if res.code != 0 || res.waitErr != nil {
		kind := plugins.ProblemFail
		if res.diskFull() {
			kind = plugins.ProblemError
		}
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: kind, Path: point,
			Message: fmt.Sprintf("restore of dump %s into scratch database %s failed: %s", point, name, res.message())})
		if d.tool != "" && !f.completed {
			resp.Problems = append(resp.Problems, truncated)
		}
		return false, nil
	}
	if feedErr != nil {
		// The client exited 0 but did not take all of the SQL.
		return false, fmt.Errorf("restore dump %s: %w", point, feedErr)
	}
	if d.tool != "" && !f.completed {
		resp.Problems = append(resp.Problems, truncated)
	}
	return true, nil
}

// inspect fingerprints the scratch database's tables and runs the drill's
// checks there, into resp.
func (b *Backend) inspect(ctx context.Context, srv *server, name string, dc *plugins.DatabaseChecks, resp *plugins.RestoreResponse) error {
	pool, err := srv.connect(ctx, name)
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to server %s: %w", srv, err)
	}
	defer conn.Close()
	tables, err := listTables(ctx, conn, name)
	if err != nil {
		return err
	}
	if resp.Tables, err = fingerprints(ctx, conn, name, tables); err != nil {
		return err
	}
	resp.Files = int64(len(resp.Tables))
	if dc == nil {
		return nil
	}
	checks, probs, err := runChecks(ctx, conn, name, dc, tables, resp.Tables)
	if err != nil {
		return err
	}
	resp.Checks = append(resp.Checks, checks...)
	resp.Problems = append(resp.Problems, probs...)
	return nil
}

// problemOf is the Problem an error from opening or feeding the dump
// stands for, when it stands for one: damage or a refusal fails the
// drill, a dump of several databases or a restore over the byte limit is
// an error (the backup may be fine).
func problemOf(err error, point string) (plugins.Problem, bool) {
	var dp *dumpProblem
	var sd *severalDatabases
	var le *limitError
	switch {
	case errors.As(err, &dp):
		return plugins.Problem{Kind: plugins.ProblemFail, Path: point, Message: dp.msg}, true
	case errors.As(err, &sd):
		return plugins.Problem{Kind: plugins.ProblemError, Path: point, Message: sd.msg}, true
	case errors.As(err, &le):
		return plugins.Problem{Kind: plugins.ProblemError, Path: point, Message: le.msg}, true
	}
	return plugins.Problem{}, false
}
