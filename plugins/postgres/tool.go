package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/plugins"
)

// restoreInto restores the dump into scratch database sc as its role
// (login is connected as that role), while a sizeWatch on the maintenance
// connection follows the database's growth. Archives go through
// pg_restore, plain dumps through restorePlain. It returns false when the
// restore failed for a reason recorded as a problem.
func (r *restore) restoreInto(ctx context.Context, f format, tool string, sc *scratch, login *pgx.Conn) (bool, error) {
	toolCtx, stopTool := context.WithCancel(ctx)
	defer stopTool()
	w := &sizeWatch{conn: sc.admin, name: sc.name, limit: r.req.MaxBytes, grown: &r.grown, stopTool: stopTool}
	if err := w.start(ctx); err != nil {
		return false, r.connErr(ctx, "watch scratch database "+sc.name, err)
	}
	r.archive.Store(f.archive())
	var res *run
	var plain *plainOutcome
	var plainErr error
	if f.archive() {
		res = r.pgRestore(toolCtx, f, tool, sc)
	} else {
		plain, plainErr = r.restorePlain(toolCtx, f, login)
	}
	werr := w.stop(ctx)
	if w.over.Load() {
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf(
			"restore of %s stopped: scratch database %s on server %s grew by %d bytes, past max_scratch_bytes (%d bytes); raise max_scratch_bytes or restore on a server with more room",
			r.path, sc.name, r.s.serverName(), w.grown.Load(), w.limit))
		return false, nil
	}
	if werr == nil {
		r.resp.Details["scratch_database_bytes"] = strconv.FormatInt(w.grown.Load(), 10)
	}
	if !f.archive() {
		return r.judgePlain(ctx, plain, plainErr)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("restore dump %s with pg_restore: %w", r.path, err)
	}
	if res.code == 0 && res.startErr == nil {
		return true, nil
	}
	if res.code == -1 {
		return false, fmt.Errorf("run pg_restore for dump %s: %v", r.path, res.message())
	}
	msg := res.message()
	switch {
	case isConnectionFailure(msg):
		return false, fmt.Errorf("restore dump %s: pg_restore lost the server %s: %s", r.path, r.s.serverName(), msg)
	case isDiskFull(msg):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("pg_restore ran out of room on server %s restoring %s: %s", r.s.serverName(), r.path, msg))
	case strings.Contains(msg, "permission denied to create extension"):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("pg_restore of %s: %s; %s", r.path, msg, untrustedHint))
	case strings.Contains(msg, "permission denied for tablespace"):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("pg_restore of %s: %s; %s", r.path, msg, tablespaceHint))
	default:
		r.fail("pg_restore of %s exited with code %d: %s", r.path, res.code, msg)
	}
	return false, nil
}

// untrustedHint says why an extension could not be created.
const untrustedHint = "the extension is not trusted, and drill restores as a temporary role that is not a superuser, so it cannot create it; drill cannot restore this dump with least privilege"

// tablespaceHint says why a tablespace could not be used.
const tablespaceHint = "the dump puts tables in a tablespace that drill's temporary restore role may not use; on the scratch server, GRANT CREATE ON TABLESPACE to PUBLIC (the roles are made per drill)"

// pgRestore runs pg_restore into scratch database sc as its role, the
// password in a pgpass file of its own.
func (r *restore) pgRestore(ctx context.Context, f format, tool string, sc *scratch) *run {
	pgpass, removePgpass, err := writePgpass(sc.password, sc.name)
	if err != nil {
		return &run{code: -1, startErr: err}
	}
	defer removePgpass()
	arg, extra, done := r.dumpArg()
	defer done()
	args := []string{"--exit-on-error", "--no-owner", "--no-privileges", "--no-subscriptions", "--no-security-labels", "-d", sc.name}
	if r.s.jobs > 0 && (f == formatCustom || f == formatDirectory) {
		args = append(args, "--jobs", strconv.FormatInt(r.s.jobs, 10))
	}
	args = append(args, arg)
	return runTool(ctx, tool, args, r.s.toolEnv(pgpass, sc.name), false, extra)
}

// restorePlain sends a plain dump (compressed or not) to the server over the
// scratch role's connection.
func (r *restore) restorePlain(ctx context.Context, f format, login *pgx.Conn) (*plainOutcome, error) {
	var in io.Reader = &countingReader{ctx: ctx, r: r.file, n: &r.done}
	in, done, err := openPlain(f, in)
	if err != nil {
		return nil, fmt.Errorf("open dump %s: %w", r.path, err)
	}
	defer done()
	out, header, err := restorePlain(ctx, login.PgConn(), in)
	r.resp.Details["pg_dump_version"] = plainVersion(header)
	return out, err
}

// judgePlain turns a plain restore's outcome into problems; it returns
// false when the restore failed.
func (r *restore) judgePlain(ctx context.Context, out *plainOutcome, err error) (bool, error) {
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, fmt.Errorf("restore dump %s: %w", r.path, cerr)
		}
		return false, fmt.Errorf("restore dump %s on server %s: %w", r.path, r.s.serverName(), err)
	}
	r.resp.Details["plain_dump_statements"] = strconv.FormatInt(out.statements, 10)
	if out.owners+out.privileges+out.others > 0 {
		r.resp.Details["plain_dump_skipped"] = fmt.Sprintf("%d OWNER TO and %d GRANT/REVOKE statements (as pg_restore --no-owner --no-privileges), %d subscription and security label statements",
			out.owners, out.privileges, out.others)
	}
	if len(out.tolerated) > 0 {
		r.resp.Details["plain_dump_tolerated"] = fmt.Sprintf("%d statements only the owner of what they change may run, not the restore role: %s",
			len(out.tolerated), strings.Join(out.tolerated, "; "))
	}
	if out.database > 0 {
		r.resp.Details["plain_dump_database_statements"] = fmt.Sprintf("%d statements of pg_dump --create about the dumped database itself, left out (the scratch database stands in for it)", out.database)
	}
	if out.cleanMissing > 0 {
		r.resp.Details["plain_dump_clean_missing"] = fmt.Sprintf("%d DROP statements of pg_dump --clean found nothing to drop in the empty scratch database (psql reports these and goes on)", out.cleanMissing)
	}
	var me *metaError
	var ce *clusterDumpError
	switch {
	case errors.As(out.dumpErr, &ce):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("plain dump %s: %v", r.path, ce))
	case errors.As(out.dumpErr, &me):
		r.fail("plain dump %s: %v; drill runs no psql meta-command and refuses the dump", r.path, out.dumpErr)
	case out.failed != "" && out.pgErr != nil:
		return false, r.judgeServer(out)
	case out.failed != "":
		r.fail("plain dump %s: %s; the restore stopped there", r.path, out.failed)
	case out.dumpErr != nil:
		r.fail("plain dump %s: %v; the restore stopped there", r.path, out.dumpErr)
	default:
		return true, nil
	}
	return false, nil
}

// judgeServer records a statement the server refused.
func (r *restore) judgeServer(out *plainOutcome) error {
	msg := out.failed
	switch {
	case out.pgErr.Code == "53100" || isDiskFull(out.pgErr.Message):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("the restore of %s ran out of room on server %s: %s", r.path, r.s.serverName(), msg))
	case out.pgErr.Code == "42501" && out.failedStmt != nil && strings.HasPrefix(out.failedStmt.head, "CREATE EXTENSION "):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("plain dump %s: %s; %s", r.path, msg, untrustedHint))
	case out.pgErr.Code == "42501" && strings.Contains(out.pgErr.Message, "permission denied for tablespace"):
		r.probs.Add(plugins.ProblemError, r.path, fmt.Sprintf("plain dump %s: %s; %s", r.path, msg, tablespaceHint))
	case out.pgErr.Code == "57P01" || strings.HasPrefix(out.pgErr.Code, "08"):
		return fmt.Errorf("restore dump %s: the server %s ended the session: %s", r.path, r.s.serverName(), msg)
	default:
		r.fail("plain dump %s: %s; the restore stopped there", r.path, msg)
	}
	return nil
}

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
