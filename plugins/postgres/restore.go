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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/restoreevents"
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
	// Lstat: a symlink is not taken for the directory it points to; it is
	// opened as a file and refused.
	fi, err := os.Lstat(req.PointID)
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
	probs restoreevents.Problems
	// file is the dump file, opened once as a regular file (nil for a
	// directory); everything reads it through this descriptor.
	file *os.File
	// done and total are the bytes read of the dump (hashing it, then
	// restoring it) and the bytes to read.
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
	rep := restoreevents.New(events, func(int64, int64) plugins.Progress {
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
	f, ok, err := r.open(ctx)
	if err != nil || !ok {
		return err
	}
	if r.file != nil {
		defer r.file.Close()
	}
	r.resp.Details["format"] = string(f)
	var tool string
	if f.archive() {
		if tool, err = findTool(r.s.pgRestore, "pg_restore", "pg_restore_binary"); err != nil {
			return err
		}
	}
	password, err := r.s.readPassword()
	if err != nil {
		return err
	}
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
			arg, extra, done := r.dumpArg()
			defer done()
			toc = runTool(ctx, tool, []string{"-l", arg}, r.s.toolEnv("", ""), true, extra)
		}()
	} else {
		close(tocDone)
	}
	sc, err := r.createScratch(ctx, cfg)
	<-tocDone
	if err != nil {
		return err
	}
	defer sc.admin.Close(context.WithoutCancel(ctx))
	if ok, err := r.judgeTOC(ctx, tool, toc); !ok || err != nil {
		return err
	}
	// The restore, the fingerprints and the checks log in as the
	// scratch role (never SET ROLE, which a dump could RESET).
	rcfg := sc.roleConfig(cfg)
	login, err := r.login(ctx, rcfg, sc.name)
	if err != nil {
		return err
	}
	ok, err = r.restoreInto(ctx, f, tool, sc, login)
	_ = login.Close(context.WithoutCancel(ctx))
	if err != nil || !ok {
		return err
	}
	return r.inspect(ctx, rcfg, sc.name)
}

// judgeTOC records what pg_restore -l said of an archive (toc; nil for a
// plain dump). It returns false when the restore ends there.
func (r *restore) judgeTOC(ctx context.Context, tool string, toc *run) (bool, error) {
	if toc == nil {
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("list dump %s: %w", r.path, err)
	}
	if toc.startErr != nil {
		return false, fmt.Errorf("run %s -l %s: %w", tool, r.path, toc.startErr)
	}
	if toc.code != 0 {
		r.fail("pg_restore -l %s exited with code %d: %s", r.path, toc.code, toc.message())
		return false, nil
	}
	r.resp.Details["pg_dump_version"] = tocVersion(toc.stdout)
	return true, nil
}

// inspect fingerprints the tables of scratch database name, logged in
// with rcfg as its role, and runs the drill's checks there.
func (r *restore) inspect(ctx context.Context, rcfg *pgx.ConnConfig, name string) error {
	conn, err := pgx.ConnectConfig(ctx, rcfg)
	if err != nil {
		return r.connErr(ctx, fmt.Sprintf("connect to scratch database %s as role %s", name, name), err)
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

// open checks the dump and detects its format: a directory must be a
// real one holding regular files only, a file must be a regular file
// (opened once, without following a symlink, into r.file), and its
// sidecar must match. It returns false when the dump is refused (the
// problem is recorded).
func (r *restore) open(ctx context.Context) (format, bool, error) {
	var nd *notDumpError
	if r.dir {
		f, err := detectDir(r.path)
		if errors.As(err, &nd) {
			r.fail("%s is not a PostgreSQL dump (%s)", r.path, nd.why)
			return "", false, nil
		}
		return f, err == nil, err
	}
	file, err := safefile.Open(r.path, "dump")
	if errors.Is(err, safefile.ErrNotRegular) {
		r.fail("%v; nothing was restored", err)
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	r.file = file
	f, ok, err := r.detect(ctx)
	if err != nil || !ok {
		_ = file.Close()
		r.file = nil
	}
	return f, ok, err
}

// detect verifies the open dump file against its sidecar and detects
// its format.
func (r *restore) detect(ctx context.Context) (format, bool, error) {
	if ok, err := r.verifySidecar(ctx); err != nil || !ok {
		return "", false, err
	}
	f, err := detectFile(r.file)
	var nd *notDumpError
	if errors.As(err, &nd) {
		r.fail("%s is not a PostgreSQL dump (%s)", r.path, nd.why)
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return "", false, fmt.Errorf("read dump %s: %w", r.path, err)
	}
	return f, true, nil
}

// dumpArg is how pg_restore is given the dump: the descriptor drill
// checked, as /dev/fd/3, so that what it reads is what drill opened, not
// whatever the path names by then (pg_restore opens /dev/fd/3 anew, with
// an offset of its own). done closes what dumpArg opened.
func (r *restore) dumpArg() (arg string, extra []*os.File, done func()) {
	if r.file != nil {
		return "/dev/fd/3", []*os.File{r.file}, func() {}
	}
	d, err := os.OpenFile(r.path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return r.path, nil, func() {} // pg_restore says what is wrong with it
	}
	return "/dev/fd/3", []*os.File{d}, func() { _ = d.Close() }
}

// login connects to the scratch database as its role, or says what in
// the server's configuration keeps the role out.
func (r *restore) login(ctx context.Context, rcfg *pgx.ConnConfig, name string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, rcfg)
	if err == nil {
		return conn, nil
	}
	var pe *pgconn.PgError
	if ctx.Err() == nil && errors.As(err, &pe) && (pe.Code == "28000" || pe.Code == "28P01") {
		return nil, fmt.Errorf("server %s does not let drill's temporary role %s log in to its scratch database (%s): drill restores as a role of its own, named like its database (drill_<drill>_<12 hex digits>); allow it in pg_hba.conf with a line such as \"host sameuser all %s/32 scram-sha-256\" (each role only into the database of the same name) above the lines that reject it, then reload the server",
			r.s.serverName(), name, textsafe.Escape(pe.Message), r.s.conn.host)
	}
	return nil, r.connErr(ctx, fmt.Sprintf("log in to scratch database %s as role %s", name, name), err)
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
	data, err := safefile.ReadFile(sidecar, "checksum file", maxSidecar)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if errors.Is(err, safefile.ErrNotRegular) {
		r.fail("%v; nothing was restored", err)
		return false, nil
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
	h := sha256.New()
	if _, err := io.Copy(h, &countingReader{ctx: ctx, r: r.file, n: &r.done}); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return false, fmt.Errorf("hash dump %s: %w", r.path, cerr)
		}
		return false, fmt.Errorf("hash dump %s: %w", r.path, err)
	}
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("read dump %s: %w", r.path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		r.fail("dump %s does not match its checksum file %s: its SHA-256 is %s, the checksum file says %s; nothing was restored",
			r.path, sidecar, hex.EncodeToString(got), hex.EncodeToString(want))
		return false, nil
	}
	return true, nil
}

// maxSidecar bounds a checksum file: a line per dump is a few hundred
// bytes.
const maxSidecar = 1 << 20

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

// scratch is a drill's scratch database and the temporary role that
// owns it and restores into it; both have the same name.
type scratch struct {
	name, password string
	// admin is the connection to the maintenance database they were
	// created from, for the caller to close.
	admin *pgx.Conn
}

// roleConfig is the configuration of a login as the scratch role into
// its database.
func (sc *scratch) roleConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	c := scratchConfig(cfg, sc.name)
	c.User, c.Password = sc.name, sc.password
	return c
}

// createScratch creates the scratch role and database, announced to the
// host and remembered for Cleanup before they exist.
func (r *restore) createScratch(ctx context.Context, cfg *pgx.ConnConfig) (*scratch, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, r.connErr(ctx, "connect", err)
	}
	sc, err := r.createOn(ctx, conn, cfg)
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	sc.admin = conn
	return sc, nil
}

// roleAttrs are the scratch role's attributes: it can log in, and do
// nothing its database's owner could not.
const roleAttrs = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"

func (r *restore) createOn(ctx context.Context, conn *pgx.Conn, cfg *pgx.ConnConfig) (*scratch, error) {
	var version, login string
	var super, createRole, createDB bool
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user").
		Scan(&version, &login, &super, &createRole, &createDB); err != nil {
		return nil, r.connErr(ctx, "read the server version and the login's attributes", err)
	}
	r.resp.Details["server_version"] = version
	if !super && (!createRole || !createDB) {
		return nil, fmt.Errorf("server %s: login %s cannot create drill's temporary role and scratch database: it needs CREATEROLE and CREATEDB (as a superuser: ALTER ROLE %s CREATEROLE CREATEDB)",
			r.s.serverName(), textsafe.Escape(login), pgx.Identifier{login}.Sanitize())
	}
	name := scratchdb.Name(r.req.DrillName, 63)
	if err := r.ev.Scratch(name); err != nil {
		return nil, fmt.Errorf("announce scratch database %s: %w", name, err)
	}
	r.b.scratch.Remember(name, cfg)
	password, verifier, err := newRolePassword()
	if err != nil {
		return nil, err
	}
	id := pgx.Identifier{name}.Sanitize()
	stmts := []string{
		// The password goes as a SCRAM verifier: no statement log of
		// the server ever holds it.
		// INHERIT until the public schema is its own (see ownPublic);
		// nobody can log in as it before.
		fmt.Sprintf("CREATE ROLE %s %s CONNECTION LIMIT %d PASSWORD '%s'", id, strings.Replace(roleAttrs, "NOINHERIT", "INHERIT", 1), 4+r.s.jobs, verifier),
	}
	if !super {
		// Only a member of the role may make it a database's owner and
		// end its sessions.
		stmts = append(stmts, "GRANT "+id+" TO CURRENT_USER")
	}
	stmts = append(stmts,
		// template0: a dump restores into a database as pristine as the
		// one pg_dump's own documentation restores into.
		"CREATE DATABASE "+id+" OWNER "+id+" TEMPLATE template0",
		"REVOKE CONNECT, TEMPORARY ON DATABASE "+id+" FROM PUBLIC")
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, r.connErr(ctx, "create scratch role and database "+name, err)
		}
	}
	if err := ownPublic(ctx, cfg, name); err != nil {
		return nil, r.connErr(ctx, "give scratch role "+name+" the public schema of its database", err)
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE "+id+" NOINHERIT"); err != nil {
		return nil, r.connErr(ctx, "create scratch role "+name, err)
	}
	r.resp.Details["scratch_database"] = name
	r.resp.Details["restore_role"] = name
	return &scratch{name: name, password: password}, nil
}

// ownPublic makes role name the owner of the public schema of its
// database. Since PostgreSQL 15 that schema belongs to pg_database_owner,
// whose rights a NOINHERIT role does not use (and the login, a member of
// the role, uses them only while the role is INHERIT); a dump creates its
// tables there. Before 15 the schema belongs to the bootstrap superuser,
// and PUBLIC may create in it: a login that is not a superuser leaves it.
func ownPublic(ctx context.Context, cfg *pgx.ConnConfig, name string) error {
	c := cfg.Copy()
	c.Database = name
	conn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "ALTER SCHEMA public OWNER TO "+pgx.Identifier{name}.Sanitize())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "3F000" || pe.Code == "42501" && majorVersion(conn.PgConn().ParameterStatus("server_version")) < 15) {
		return nil
	}
	return err
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

// majorVersion is the major version of a server_version such as
// "15.4 (Debian 15.4-1)" or "9.6.24"; 0 if it cannot be read.
func majorVersion(v string) int {
	i := strings.IndexFunc(v+" ", func(r rune) bool { return r < '0' || r > '9' })
	n, _ := strconv.Atoi(v[:i])
	return n
}
