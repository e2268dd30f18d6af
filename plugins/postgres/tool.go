package postgres

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/plugins"
)

// restoreInto restores the dump into scratch database name with the
// client tool, while a sizeWatch on conn (the maintenance connection)
// follows the database's growth. It returns false when the restore failed
// for a reason recorded as a problem.
func (r *restore) restoreInto(ctx context.Context, f format, tool string, env []string, name string, conn *pgx.Conn) (bool, error) {
	toolCtx, stopTool := context.WithCancel(ctx)
	defer stopTool()
	w := &sizeWatch{conn: conn, name: name, limit: r.req.MaxBytes, grown: &r.grown, stopTool: stopTool}
	if err := w.start(ctx); err != nil {
		return false, r.connErr(ctx, "watch scratch database "+name, err)
	}
	r.archive.Store(f.archive())
	var res *run
	var feed *plainFeed
	if f.archive() {
		args := []string{"--exit-on-error", "--no-owner", "--no-privileges", "-d", name}
		if r.s.jobs > 0 && (f == formatCustom || f == formatDirectory) {
			args = append(args, "--jobs", strconv.FormatInt(r.s.jobs, 10))
		}
		args = append(args, r.path)
		res = runTool(toolCtx, tool, args, env, nil, false)
	} else {
		var err error
		feed, err = r.openPlain(toolCtx, f == formatPlainGzip)
		if err != nil {
			_ = w.stop(ctx) // the dump cannot be read: that is the error
			return false, err
		}
		defer feed.close()
		res = runTool(toolCtx, tool, []string{"-v", "ON_ERROR_STOP=1", "-X", "-q", "-d", name, "-f", "-"}, env, feed.guard, false)
	}
	werr := w.stop(ctx)
	if w.over.Load() {
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf(
			"restore of %s stopped: scratch database %s on server %s grew by %d bytes, past max_scratch_bytes (%d bytes); raise max_scratch_bytes or restore on a server with more room",
			r.path, name, r.s.serverName(), w.grown.Load(), w.limit))
		return false, nil
	}
	if werr == nil {
		r.resp.Details["scratch_database_bytes"] = strconv.FormatInt(w.grown.Load(), 10)
	}
	toolName := "pg_restore"
	if !f.archive() {
		toolName = "psql"
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("restore dump %s with %s: %w", r.path, toolName, err)
	}
	if feed != nil && r.plainRefused(feed) {
		return false, nil
	}
	if res.code == 0 && res.startErr == nil {
		return true, nil
	}
	if res.code == -1 {
		return false, fmt.Errorf("run %s for dump %s: %v", toolName, r.path, res.message())
	}
	msg := res.message()
	switch {
	case isConnectionFailure(msg):
		return false, fmt.Errorf("restore dump %s: %s lost the server %s: %s", r.path, toolName, r.s.serverName(), msg)
	case isDiskFull(msg):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("%s ran out of room on server %s restoring %s: %s", toolName, r.s.serverName(), r.path, msg))
	default:
		r.fail("%s of %s exited with code %d: %s", toolName, r.path, res.code, msg)
	}
	return false, nil
}

// prescan reads a plain dump through the meta-command guard once before
// any database is created: pg_dump --create writes CREATE DATABASE before
// its \connect, and psql would run it before the guard saw the \connect.
// A truncated gzip stream is found here too. It returns false when the
// dump is refused (the problem is recorded).
func (r *restore) prescan(ctx context.Context, gz bool) (bool, error) {
	r.total.Add(r.size) // the restore reads the dump once more
	feed, err := r.openPlain(ctx, gz)
	if err != nil {
		return false, err
	}
	defer feed.close()
	_, _ = io.Copy(io.Discard, feed.guard)
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("read dump %s: %w", r.path, err)
	}
	r.resp.Details["pg_dump_version"] = plainVersion(feed.guard.header)
	if g := feed.guard; g.owners+g.privileges > 0 {
		r.resp.Details["plain_dump_skipped"] = fmt.Sprintf("%d OWNER TO and %d GRANT/REVOKE statements (as pg_restore --no-owner --no-privileges)", g.owners, g.privileges)
	}
	return !r.plainRefused(feed), nil
}

// plainRefused records why a plain dump cannot be restored, if it
// cannot: a meta-command, or a read or decompression error.
func (r *restore) plainRefused(feed *plainFeed) bool {
	var me *metaError
	if errors.As(feed.guard.err, &me) {
		r.fail("plain dump %s: %v; drill restores only into its scratch database and refuses it (a dump made with pg_dump --create? dump without it)", r.path, me)
		return true
	}
	if err := feed.readErr(); err != nil {
		r.fail("read plain dump %s: %v", r.path, err)
		return true
	}
	return false
}

// plainFeed is a plain dump on its way to psql: read from the file,
// counted, decompressed when gzip'd, and checked for meta-commands.
type plainFeed struct {
	f     *os.File
	count *countingReader
	zr    *gzip.Reader
	guard *sqlGuard
}

func (r *restore) openPlain(ctx context.Context, gz bool) (*plainFeed, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("open dump %s: %w", r.path, err)
	}
	p := &plainFeed{f: f, count: &countingReader{ctx: ctx, r: f, n: &r.done}}
	var in io.Reader = p.count
	if gz {
		zr, err := gzip.NewReader(in)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("open dump %s: %w", r.path, err)
		}
		p.zr = zr
		in = zr
	}
	p.guard = newSQLGuard(in)
	return p, nil
}

// readErr is the first error reading or decompressing the dump, other
// than its end and a meta-command stop.
func (p *plainFeed) readErr() error {
	err := p.guard.err
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (p *plainFeed) close() { _ = p.f.Close() } // read only

// countingReader counts what is read through it and stops at ctx's end.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
