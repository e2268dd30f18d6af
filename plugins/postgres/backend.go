package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
)

// Name is the backend's name in the config's `backend:` field.
const Name = "postgres"

// Version is the version of this backend's behaviour, recorded in evidence.
const Version = "0.1.0"

// cleanupTimeout bounds Cleanup, whatever the caller's context: it also
// runs after a cancelled drill.
const cleanupTimeout = 30 * time.Second

// connectTimeout bounds each connection to the server.
const connectTimeout = 15 * time.Second

// Backend restores pg_dump output into scratch databases.
type Backend struct {
	// scratch holds the scratch databases (and their roles, of the same
	// name) this Backend created and has not dropped yet, with the
	// maintenance connection to drop them from.
	scratch scratchdb.Registry[*pgx.ConnConfig]
}

var _ plugins.Backend = (*Backend)(nil)

// New returns the postgres backend.
func New() plugins.Backend { return &Backend{} }

// Describe names the backend and its source keys.
func (b *Backend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: Name, Version: Version, Kind: plugins.KindDatabase, SourceKeys: plugins.Keys(source{}),
		PointNoun: "dump", StoreNoun: "dump folder"}, nil
}

// source is a postgres source: its tagged fields are the source keys
// (plugins.Keys, plugins.Decode); conn is parsed from server.
type source struct {
	dump         string `source:"dump,glob,required" doc:"a glob of pg_dump output: files (custom, tar, plain SQL, plain SQL .gz) or directories (-Fd); the newest match by mtime is restored"`
	server       string `source:"server,required" doc:"the server to restore on, as a URL naming a maintenance database: postgres://drill@127.0.0.1:5432/postgres (no password in it)"`
	passwordFile string `source:"password_file,path" doc:"a file holding the password (default: PGPASSFILE or ~/.pgpass)"`
	pgRestore    string `source:"pg_restore_binary,path" doc:"the pg_restore executable (default: pg_restore on PATH)"`
	// psqlBinary is still accepted (checked, then ignored): configs
	// written for earlier versions keep working.
	psqlBinary string `source:"psql_binary,path" doc:"deprecated and ignored: drill restores plain dumps itself, without psql"`
	jobs       int64  `source:"jobs" doc:"pg_restore --jobs for the custom and directory formats"`
	// fingerprintLimit is the largest table fingerprinted; 0: no limit.
	fingerprintLimit int64 `source:"fingerprint_limit,size" doc:"tables larger than this (pg_total_relation_size) are counted, not fingerprinted (default 256MiB; 0: fingerprint every table)"`
	// conn is where the server URL points: host, port, user, database.
	conn serverAddr
}

// serverAddr is what the client tools need of the server URL.
type serverAddr struct {
	host, port, user, database, sslmode string
}

// parseSource decodes a source and checks postgres's own rules on it.
func parseSource(src plugins.Source) (*source, []plugins.Problem) {
	s := &source{fingerprintLimit: maxFingerprintBytes}
	if probs := plugins.Decode(src, s); len(probs) > 0 {
		return s, probs
	}
	var probs []plugins.Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if s.fingerprintLimit < 0 {
		bad("fingerprint_limit", "fingerprint_limit must not be negative, got %d", s.fingerprintLimit)
	}
	if _, set := src["jobs"]; set && (s.jobs < 1 || s.jobs > 256) {
		bad("jobs", "jobs must be between 1 and 256, got %d", s.jobs)
	}
	if !filepath.IsAbs(s.dump) {
		bad("dump", "dump %q is not an absolute path", s.dump)
	} else if _, err := filepath.Match(s.dump, ""); err != nil {
		bad("dump", "dump %q is not a valid glob: %v", s.dump, err)
	}
	if addr, err := parseServer(s.server); err != nil {
		bad("server", "%v", err)
	} else {
		s.conn = addr
	}
	for _, kv := range [][2]string{{"password_file", s.passwordFile}, {"pg_restore_binary", s.pgRestore}, {"psql_binary", s.psqlBinary}} {
		if kv[1] != "" && !filepath.IsAbs(kv[1]) {
			bad(kv[0], "%s %q is not an absolute path", kv[0], kv[1])
		}
	}
	if s.pgRestore == "" {
		s.pgRestore = "pg_restore"
	}
	return s, probs
}

// parseServer checks a server URL and returns its parts. A password in
// it (user:password@ or ?password=) is refused: it would end up in
// configs, process lists and logs.
func parseServer(raw string) (serverAddr, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return serverAddr{}, fmt.Errorf("server %s is not a URL such as postgres://drill@127.0.0.1:5432/postgres", redactURL(raw))
	}
	q := u.Query()
	if _, ok := u.User.Password(); ok || q.Has("password") {
		return serverAddr{}, fmt.Errorf("server %s holds a password: remove it and use password_file or ~/.pgpass", redactURL(raw))
	}
	for k := range q {
		switch k {
		case "sslmode", "host", "port", "user", "dbname", "connect_timeout", "application_name":
		default:
			return serverAddr{}, fmt.Errorf("server %s: parameter %q is not supported (only sslmode, host, port, user, dbname, connect_timeout, application_name)", redactURL(raw), k)
		}
	}
	a := serverAddr{host: u.Hostname(), port: u.Port(), user: u.User.Username(),
		database: strings.TrimPrefix(u.Path, "/"), sslmode: q.Get("sslmode")}
	if v := q.Get("host"); v != "" {
		a.host = v
	}
	if v := q.Get("port"); v != "" {
		a.port = v
	}
	if v := q.Get("user"); v != "" {
		a.user = v
	}
	if v := q.Get("dbname"); v != "" {
		a.database = v
	}
	if a.host == "" {
		return serverAddr{}, fmt.Errorf("server %s names no host", redactURL(raw))
	}
	if strings.Contains(a.host, ",") {
		return serverAddr{}, fmt.Errorf("server %s names several hosts; name one", redactURL(raw))
	}
	if a.port == "" {
		a.port = "5432"
	}
	if a.database == "" {
		a.database = "postgres"
	}
	if scratchdb.IsName(a.database) {
		return serverAddr{}, fmt.Errorf("server %s: the maintenance database %q looks like a drill scratch database", redactURL(raw), a.database)
	}
	return a, nil
}

// redactURL returns a server URL fit for messages: without a password,
// whether in the user information or the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Keep only what follows the user information, if any.
		if at := strings.LastIndexByte(raw, '@'); at >= 0 {
			if i := strings.Index(raw, "://"); i >= 0 && i < at {
				return raw[:i+3] + "***@" + raw[at+1:]
			}
			return "***@" + raw[at+1:]
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "***")
		u.RawQuery = q.Encode()
	}
	return strings.Replace(u.String(), ":%2A%2A%2A@", ":***@", 1)
}

// serverName is the server for messages.
func (s *source) serverName() string { return redactURL(s.server) }

// ValidateSource checks a source without touching the dump or the server.
func (b *Backend) ValidateSource(_ context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	_, probs := parseSource(req.Source)
	return &plugins.ValidateSourceResponse{Problems: probs}, nil
}

// ListRestorePoints lists the dumps that match the glob, newest first.
func (b *Backend) ListRestorePoints(ctx context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	matches, err := filepath.Glob(s.dump)
	if err != nil {
		return nil, fmt.Errorf("list dumps %s: %w", s.dump, err)
	}
	resp := &plugins.ListRestorePointsResponse{}
	for _, m := range matches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if strings.HasSuffix(m, sidecarSuffix) {
			continue
		}
		p, err := pointOf(m)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the glob
		}
		if err != nil {
			return nil, err
		}
		if p != nil {
			resp.Points = append(resp.Points, *p)
		}
	}
	sort.SliceStable(resp.Points, func(i, j int) bool { return resp.Points[i].Time.After(resp.Points[j].Time) })
	return resp, nil
}

// pointOf describes the dump at path, or returns nil when it is neither
// a regular file nor a directory.
func pointOf(path string) (*plugins.RestorePoint, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat dump %s: %w", path, err)
	}
	p := &plugins.RestorePoint{ID: path, Time: fi.ModTime(), Size: fi.Size(), Files: 1,
		Description: "dump " + filepath.Base(path), TimeBasis: plugins.BasisDumpMtime}
	switch {
	case fi.Mode().IsRegular():
	case fi.IsDir():
		n, size, err := dirSize(path)
		if err != nil {
			return nil, err
		}
		p.Files, p.Size = n, size
	default:
		return nil, nil
	}
	return p, nil
}

// dirSize counts the regular files directly in dir (a -Fd dump is flat)
// and their bytes.
func dirSize(dir string) (files, bytes int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("read dump directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return 0, 0, fmt.Errorf("read dump directory %s: %w", dir, err)
		}
		files++
		bytes += fi.Size()
	}
	return files, bytes, nil
}

// Cleanup drops every scratch database this Backend created and has not
// dropped yet, with its role. It is idempotent, and bounded by its own timeout so that it
// also works after the drill's context has ended.
func (b *Backend) Cleanup(ctx context.Context, req *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// Scratch databases an earlier drill left (it crashed), named by the
	// host, which recorded them before they were created.
	if len(req.Scratch) > 0 {
		s, probs := parseSource(req.Source)
		if len(probs) > 0 {
			return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
		}
		password, err := s.readPassword()
		if err != nil {
			return nil, err
		}
		cfg, err := s.connConfig(password)
		if err != nil {
			return nil, err
		}
		for _, name := range req.Scratch {
			b.scratch.Remember(name, cfg)
		}
	}
	if err := b.scratch.Drop(func(name string, cfg *pgx.ConnConfig) error { return dropScratch(ctx, cfg, name) }); err != nil {
		return nil, err
	}
	return &plugins.CleanupResponse{}, nil
}
