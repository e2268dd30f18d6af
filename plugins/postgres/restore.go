package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/report"
)

// progressEvery is how often a restore reports progress while a client
// tool runs, so that the host sees it alive.
const progressEvery = time.Second

// Restore restores one dump into a fresh scratch database, fingerprints
// its tables and runs the drill's database checks there. The scratch
// database is left for Cleanup.
func (b *Backend) Restore(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore dump %s: %w", req.PointID, err)
	}
	// Say at once that the restore has started (see plugins.RestoreEvents).
	if err := events.Progress(plugins.Progress{FilesTotal: -1, BytesTotal: -1}); err != nil {
		return nil, err
	}
	if ok, _ := filepath.Match(s.dump, req.PointID); !ok || !filepath.IsAbs(req.PointID) {
		return nil, fmt.Errorf("dump %s is not one of the source's dumps (%s)", req.PointID, s.dump)
	}
	point, err := pointOf(req.PointID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dump %s has vanished from the dump folder: %w", req.PointID, err)
		}
		return nil, err
	}
	if point == nil {
		return nil, fmt.Errorf("dump %s is neither a file nor a directory", req.PointID)
	}
	fi, err := os.Stat(req.PointID)
	if err != nil {
		return nil, fmt.Errorf("stat dump %s: %w", req.PointID, err)
	}
	ev := &lockedEvents{ev: events}
	r := &restore{b: b, ev: ev, s: s, req: req, path: req.PointID, dir: fi.IsDir(),
		resp: &plugins.RestoreResponse{Point: *point, Bytes: point.Size, Details: map[string]string{}}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.startProgress(ctx, cancel, ev, point.Size)
	err = r.run(ctx)
	if perr := stop(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	r.resp.Problems = r.probs.All()
	return r.resp, nil
}

// restore is one Restore under way.
type restore struct {
	b     *Backend
	ev    plugins.RestoreEvents
	s     *source
	req   *plugins.RestoreRequest
	path  string
	dir   bool
	resp  *plugins.RestoreResponse
	probs report.Problems
	// done and total are the bytes read of the dump (hashing it, then
	// feeding it to psql) and the bytes to read.
	done, total atomic.Int64
	size        int64 // of the dump
	// archive is set while pg_restore restores an archive, whose progress
	// is grown: the scratch database's growth.
	archive atomic.Bool
	grown   atomic.Int64
}

// startProgress reports progress every progressEvery until the returned
// function is called; that reports the final progress and returns an
// error when the host has gone away (which also cancels ctx).
func (r *restore) startProgress(ctx context.Context, cancel context.CancelFunc, events plugins.RestoreEvents, size int64) func() error {
	r.size = size
	r.total.Store(size)
	rep := report.New(events, func(int64, int64) plugins.Progress {
		if r.archive.Load() {
			return plugins.Progress{FilesTotal: -1, BytesDone: r.grown.Load(), BytesTotal: -1}
		}
		return plugins.Progress{FilesTotal: -1, BytesDone: min(r.done.Load(), r.total.Load()), BytesTotal: r.total.Load()}
	})
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := rep.Tick(); err != nil {
					cancel()
					return
				}
			}
		}
	}()
	return func() error {
		close(quit)
		<-finished
		r.done.Store(r.total.Load())
		return rep.Close()
	}
}

func (r *restore) fail(format string, args ...any) {
	r.probs.Add(plugins.ProblemFail, r.path, fmt.Sprintf(format, args...))
}

// run does the restore's steps in order; damage found stops it with a
// problem and a nil error.
func (r *restore) run(ctx context.Context) error {
	if !r.dir {
		ok, err := r.verifySidecar(ctx)
		if err != nil || !ok {
			return err
		}
	}
	var f format
	var err error
	if r.dir {
		f, err = detectDir(r.path)
	} else {
		f, err = detectFile(r.path)
	}
	var nd *notDumpError
	if errors.As(err, &nd) {
		r.fail("%s is not a PostgreSQL dump (%s)", r.path, nd.why)
		return nil
	}
	if err != nil {
		return err
	}
	r.resp.Details["format"] = string(f)

	tool, err := r.tool(f)
	if err != nil {
		return err
	}
	if !f.archive() {
		if ok, err := r.prescan(ctx, f == formatPlainGzip); err != nil || !ok {
			return err
		}
	}
	password, err := r.s.readPassword()
	if err != nil {
		return err
	}
	pgpass, removePgpass, err := writePgpass(password)
	if err != nil {
		return err
	}
	defer removePgpass()
	env := r.s.toolEnv(pgpass)

	cfg, err := r.s.connConfig(password)
	if err != nil {
		return err
	}
	// An archive's table of contents gives its pg_dump version, and is a
	// first look at the archive. pg_restore -l runs while the scratch
	// database is created; a failure drops it again with the rest.
	var toc *run
	tocDone := make(chan struct{})
	if f.archive() {
		go func() {
			defer close(tocDone)
			toc = runTool(ctx, tool, []string{"-l", r.path}, env, nil, true)
		}()
	} else {
		close(tocDone)
	}
	name, admin, err := r.createScratch(ctx, cfg)
	<-tocDone
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if toc != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list dump %s: %w", r.path, err)
		}
		if toc.startErr != nil {
			return fmt.Errorf("run %s -l %s: %w", tool, r.path, toc.startErr)
		}
		if toc.code != 0 {
			r.fail("pg_restore -l %s exited with code %d: %s", r.path, toc.code, toc.message())
			return nil
		}
		r.resp.Details["pg_dump_version"] = tocVersion(toc.stdout)
	}
	if ok, err := r.restoreInto(ctx, f, tool, env, name, admin); err != nil || !ok {
		return err
	}
	scfg := scratchConfig(cfg, name)
	conn, err := pgx.ConnectConfig(ctx, scfg)
	if err != nil {
		return r.connErr(ctx, fmt.Sprintf("connect to scratch database %s", name), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := fingerprint(ctx, conn, r.s.fingerprintLimit)
	if err != nil {
		return r.connErr(ctx, "fingerprint the restored tables", err)
	}
	r.resp.Tables = tables
	r.resp.Files = int64(len(tables))
	if r.req.DatabaseChecks != nil {
		checks, err := runChecks(ctx, conn, r.req.DatabaseChecks, tables, &r.probs)
		if err != nil {
			return r.connErr(ctx, "run the database checks", err)
		}
		r.resp.Checks = checks
	}
	return nil
}

// connErr wraps a failure talking to the server, or the context's end.
func (r *restore) connErr(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s on server %s: %w", what, r.s.serverName(), cerr)
	}
	return fmt.Errorf("%s on server %s: %w", what, r.s.serverName(), err)
}

// verifySidecar checks the dump against <dump>.sha256 when there is one.
// It returns false when the dump must not be restored (the problem is
// recorded).
func (r *restore) verifySidecar(ctx context.Context) (bool, error) {
	sidecar := r.path + sidecarSuffix
	data, err := os.ReadFile(sidecar)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read checksum file %s: %w", sidecar, err)
	}
	want, err := parseSidecar(data, filepath.Base(r.path))
	if err != nil {
		r.fail("checksum file %s for dump %s is malformed: %v", sidecar, r.path, err)
		return false, nil
	}
	// Hashing reads the dump once more than restoring it.
	r.total.Add(r.size)
	f, err := os.Open(r.path)
	if err != nil {
		return false, fmt.Errorf("open dump %s: %w", r.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, &countingReader{ctx: ctx, r: f, n: &r.done}); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, fmt.Errorf("hash dump %s: %w", r.path, cerr)
		}
		return false, fmt.Errorf("hash dump %s: %w", r.path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		r.fail("dump %s does not match its checksum file %s: its SHA-256 is %s, the checksum file says %s; nothing was restored",
			r.path, sidecar, hex.EncodeToString(got), hex.EncodeToString(want))
		return false, nil
	}
	return true, nil
}

// tool returns the client tool that restores format f.
func (r *restore) tool(f format) (string, error) {
	if f.archive() {
		return findTool(r.s.pgRestore, "pg_restore", "pg_restore_binary")
	}
	return findTool(r.s.psql, "psql", "psql_binary")
}

// connConfig is the pgx configuration of the maintenance connection.
func (s *source) connConfig(password string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(s.server)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.serverName(), err)
	}
	if password != "" {
		cfg.Password = password
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "drill"
	return cfg, nil
}

// scratchConfig is the configuration of a connection to the scratch
// database, with the session settings that fix the text form of values
// (and so the fingerprints) whatever the server's defaults.
func scratchConfig(cfg *pgx.ConnConfig, name string) *pgx.ConnConfig {
	c := cfg.Copy()
	c.Database = name
	for k, v := range map[string]string{
		"TimeZone": "UTC", "DateStyle": "ISO, MDY", "IntervalStyle": "postgres",
		"extra_float_digits": "1", "bytea_output": "hex",
	} {
		c.RuntimeParams[k] = v
	}
	return c
}

// createScratch creates the scratch database, announced to the host and
// remembered for Cleanup before it exists. It returns the connection to
// the maintenance database it was created from, for the caller to close.
func (r *restore) createScratch(ctx context.Context, cfg *pgx.ConnConfig) (string, *pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", nil, r.connErr(ctx, "connect", err)
	}
	name, err := r.createOn(ctx, conn, cfg)
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return "", nil, err
	}
	return name, conn, nil
}

func (r *restore) createOn(ctx context.Context, conn *pgx.Conn, cfg *pgx.ConnConfig) (string, error) {
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", r.connErr(ctx, "read the server version", err)
	}
	r.resp.Details["server_version"] = version
	name := dbcheck.ScratchName(r.req.DrillName, 63)
	if err := r.ev.Scratch(name); err != nil {
		return "", fmt.Errorf("announce scratch database %s: %w", name, err)
	}
	r.b.scratch.Remember(name, cfg)
	// template0: a dump restores into a database as pristine as the one
	// pg_dump's own documentation restores into.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", r.connErr(ctx, "create scratch database "+name, err)
	}
	r.resp.Details["scratch_database"] = name
	return name, nil
}

// lockedEvents makes the calls of the progress ticker and of the restore
// itself one at a time, as plugins.RestoreEvents requires.
type lockedEvents struct {
	mu sync.Mutex
	ev plugins.RestoreEvents
}

func (l *lockedEvents) Progress(p plugins.Progress) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ev.Progress(p)
}

func (l *lockedEvents) Files(f []plugins.File) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ev.Files(f)
}

func (l *lockedEvents) Scratch(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ev.Scratch(name)
}
