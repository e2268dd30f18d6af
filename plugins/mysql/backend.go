// Package mysql is drill's backend for MySQL and MariaDB dumps: it restores
// the newest mysqldump / mariadb-dump file of a folder into a scratch
// database with the real mariadb (or mysql) client, fingerprints every
// table in the server, runs the drill's database checks there, and drops
// the scratch database afterwards.
//
// # A dump is hostile input
//
// A dump never touches a live database or the host, by construction:
//
//   - The restore runs as a temporary user. The configured login creates,
//     per drill, the scratch database and a user of the same name
//     (drill_<drill>_<12 hex digits>, at most 32 characters, MySQL's limit
//     for user names) at the host the server sees drill connect from, with
//     a random password and ALL PRIVILEGES on the scratch database only:
//     nothing global (no FILE, SUPER, PROCESS, CREATE USER, GRANT OPTION).
//     The client, the fingerprints and the checks connect as that user, so
//     USE of another database, DROP DATABASE live, CREATE USER, SELECT ...
//     INTO OUTFILE and LOAD DATA INFILE are access-denied errors that fail
//     the restore. The login therefore needs CREATE USER and ALL
//     PRIVILEGES ON `drill\_%`.* WITH GRANT OPTION; without them the drill
//     errs saying so. The name is announced to the host before anything
//     exists, and Cleanup drops the user (ending its sessions where the
//     login may) and the database, also after a crash (the host's sweep);
//     only names of the scratch shape are ever dropped. The password
//     reaches a MariaDB server only as its mysql_native_password hash, and
//     the client only through a 0600 option file in TMPDIR that is removed
//     afterwards: never an argument, never the environment.
//   - The client reads drill's option file and no other (--defaults-file),
//     runs none of its own commands from the dump (--binary-mode), may not
//     send local files (--local-infile=0) and, where it has it (MariaDB
//     10.5.25, 10.6.18, 10.11.8 and later), runs with --sandbox. The
//     record's details say which (client_guards), and who restored
//     (restore_user).
//   - Dumps, their .sha256 sidecars and password files are opened as
//     regular files, never through a symlink (internal/safefile); a
//     symlinked dump fails the drill naming it. What the client or server
//     says is quoted without the dump's text: not the statement the client
//     echoes, not the server's "near '...'" (its "at line N" is kept), and
//     capped in length.
//
// As a second line, the filter removes the dump's own CREATE DATABASE,
// DROP DATABASE and USE lines (a --databases dump names its database) and
// refuses a dump of several databases (a ProblemError: the backup may be
// fine, drill restores one database per drill).
//
// What a real dump holds that the restore user may not run: a DEFINER
// naming another account (views, triggers, routines, events), which needs
// SUPER or SET USER. The filter sets DEFINER to CURRENT_USER where
// mysqldump and mariadb-dump write it, at the start of a line (details:
// rewritten), never in data; the objects then run with the restore user's
// rights. Left as they are, and so failing the drill with the server's
// access-denied error: a dump made with --master-data=1 or --dump-slave
// (CHANGE MASTER TO), a MySQL dump with GTIDs (SET @@GLOBAL.GTID_PURGED:
// dump with --set-gtid-purged=OFF), and stored functions on a server that
// logs binary without log_bin_trust_function_creators.
package mysql

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
)

// Name is the backend's name in the config's `backend:` field.
const Name = "mysql"

// Version is the version of this backend's behaviour, recorded in evidence.
const Version = "0.1.0"

// maxPasswordFile is the largest password file read.
const maxPasswordFile = 64 << 10

// cleanupTimeout bounds how long Cleanup may take to drop its databases.
const cleanupTimeout = 30 * time.Second

// Backend restores MySQL/MariaDB dumps into scratch databases.
type Backend struct {
	// scratch holds the names of the scratch databases and restore users
	// this Backend announced and (possibly) created, with the server they
	// are on, for Cleanup.
	scratch scratchdb.Registry[*server]
}

var _ plugins.Backend = (*Backend)(nil)

// New returns the mysql backend.
func New() plugins.Backend { return &Backend{} }

// Describe names the backend and its source keys.
func (b *Backend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: Name, Version: Version, Kind: plugins.KindDatabase, SourceKeys: plugins.Keys(source{}),
		PointNoun: "dump", StoreNoun: "dump folder"}, nil
}

// source is a mysql source: its tagged fields are the source keys
// (plugins.Keys, plugins.Decode); srv is parsed from server.
type source struct {
	glob         string `source:"dump,glob,required" doc:"the dumps (.sql or .sql.gz from mysqldump or mariadb-dump), such as /backups/shop-*.sql.gz; the newest match by modification time is restored"`
	server       string `source:"server,required" doc:"the server to restore into, as mysql://root@127.0.0.1:3306/ (no password: use password_file)"`
	passwordFile string `source:"password_file,path" doc:"a file holding the server user's password"`
	binary       string `source:"mysql_binary,path" doc:"the client executable (default: mariadb on PATH, else mysql)"`
	srv          *server
}

// server is where dumps are restored: a user on a host and port, and the
// password read from password_file when Restore starts.
type server struct {
	user, host string
	port       int
	password   string
}

// String is the server for messages, never with a password.
func (s *server) String() string {
	return "mysql://" + url.User(s.user).String() + "@" + net.JoinHostPort(s.host, strconv.Itoa(s.port)) + "/"
}

// redactServer returns a server URL for messages without its password; a
// value that does not parse is not shown at all, in case it holds one.
func redactServer(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(server URL not shown)"
	}
	u.User = url.User(u.User.Username())
	if u.User.Username() == "" {
		u.User = nil
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// parseServer parses mysql://user@host:port/.
func parseServer(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server is not a URL such as mysql://root@127.0.0.1:3306/")
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("server %s holds a password: put it in a file and set password_file", redactServer(raw))
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, fmt.Errorf("server %s must start with mysql://, as mysql://root@127.0.0.1:3306/", redactServer(raw))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("server %s names no host, as mysql://root@127.0.0.1:3306/", redactServer(raw))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server %s must be only mysql://user@host:port/: the database is a scratch database drill creates", redactServer(raw))
	}
	s := &server{user: u.User.Username(), host: u.Hostname(), port: 3306}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("server %s: port %q is not a number from 1 to 65535", redactServer(raw), p)
		}
		s.port = n
	}
	if s.user == "" {
		return nil, fmt.Errorf("server %s names no user, as mysql://root@127.0.0.1:3306/", redactServer(raw))
	}
	if strings.ContainsAny(s.user, "\n\r\x00") {
		return nil, fmt.Errorf("server %s: the user name holds a control character", redactServer(raw))
	}
	return s, nil
}

// parseSource decodes a source and checks the dump glob and the server URL.
func parseSource(src plugins.Source) (*source, []plugins.Problem) {
	s := &source{}
	if probs := plugins.Decode(src, s); len(probs) > 0 {
		return s, probs
	}
	var probs []plugins.Problem
	if _, err := filepath.Match(s.glob, ""); err != nil {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: "dump", Message: fmt.Sprintf("dump %q is not a valid glob: %v", s.glob, err)})
	}
	srv, err := parseServer(s.server)
	if err != nil {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: "server", Message: err.Error()})
	}
	s.srv = srv
	return s, probs
}

// ValidateSource checks a source without touching the dumps or the server.
func (b *Backend) ValidateSource(_ context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	_, probs := parseSource(req.Source)
	return &plugins.ValidateSourceResponse{Problems: probs}, nil
}

func validSource(src plugins.Source) (*source, error) {
	s, probs := parseSource(src)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	return s, nil
}

// points lists the dumps that match the glob, newest first. Checksum
// sidecars (.sha256) that the glob happens to match are not dumps. A
// symlink to a dump is listed, so that Restore refuses it naming it.
func (s *source) points() ([]plugins.RestorePoint, error) {
	matches, err := filepath.Glob(s.glob)
	if err != nil {
		return nil, fmt.Errorf("dump %q: %w", s.glob, err)
	}
	var pts []plugins.RestorePoint
	for _, m := range matches {
		if strings.HasSuffix(m, ".sha256") {
			continue
		}
		fi, err := os.Stat(m)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since the glob
			}
			return nil, fmt.Errorf("dump %s: %w", m, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		pts = append(pts, plugins.RestorePoint{ID: m, Time: fi.ModTime(), Size: fi.Size(), Files: -1,
			Description: "dump " + filepath.Base(m), TimeBasis: plugins.BasisDumpMtime})
	}
	sort.SliceStable(pts, func(i, j int) bool {
		if !pts[i].Time.Equal(pts[j].Time) {
			return pts[i].Time.After(pts[j].Time)
		}
		return pts[i].ID > pts[j].ID
	})
	return pts, nil
}

// ListRestorePoints lists the dumps, newest first; none is not an error.
func (b *Backend) ListRestorePoints(_ context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	s, err := validSource(req.Source)
	if err != nil {
		return nil, err
	}
	pts, err := s.points()
	if err != nil {
		return nil, err
	}
	return &plugins.ListRestorePointsResponse{Points: pts}, nil
}

// clientBinary is the client executable: mysql_binary, else mariadb on
// PATH, else mysql.
func (s *source) clientBinary() (string, error) {
	if s.binary != "" {
		if _, err := os.Stat(s.binary); err != nil {
			return "", fmt.Errorf("mysql_binary %s: %w", s.binary, err)
		}
		return s.binary, nil
	}
	for _, name := range []string{"mariadb", "mysql"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mariadb/mysql client not found: install mariadb-client or set mysql_binary")
}

// withPassword returns the server with the password from password_file.
func (s *source) withPassword() (*server, error) {
	srv := *s.srv
	if s.passwordFile != "" {
		pw, err := safefile.ReadFile(s.passwordFile, "password file", maxPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read the password file of server %s: %w", srv.String(), err)
		}
		srv.password = strings.TrimRight(string(pw), "\r\n")
	}
	return &srv, nil
}

// Cleanup drops every scratch database and restore user this Backend
// announced, and those the host names (left by a crashed drill). It is
// idempotent and runs under its own timeout, also after ctx was cancelled.
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
		srv, err := s.withPassword()
		if err != nil {
			return nil, err
		}
		for _, name := range req.Scratch {
			b.scratch.Remember(name, srv)
		}
	}
	if err := b.scratch.Drop(func(name string, srv *server) error { return dropScratch(ctx, srv, name) }); err != nil {
		return nil, err
	}
	return &plugins.CleanupResponse{}, nil
}
