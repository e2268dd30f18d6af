package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/record"
)

// The fault suite's hostile dumps, PostgreSQL half (issue 14): plain
// dumps written by hand to run a command on the backup host, to read the
// signing key, to reach a live database or to leak a secret, each
// restored by the real drill binary on the real server. Every case
// asserts that the marker file a command would make does not exist, that
// the live database and its rows are unchanged, that no secret (the
// password file's content, the signing key, a file a symlinked dump points
// to) is in drill's output, log or evidence store, that the verdict is
// fail, that the scratch database and its role are gone, that nothing
// else outside scratch changed, that no process drill started is left,
// and that the evidence log verifies.
//
// It needs the PostgreSQL server the other tests use and fails, never
// skips, without it.
func TestHostilePgDumps(t *testing.T) {
	if out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "select 1", "postgres").CombinedOutput(); err != nil {
		t.Fatalf("the hostile PostgreSQL dumps need a server at 127.0.0.1:5432 (trust for user postgres): %v: %s; start it with pg_ctlcluster --skip-systemctl-redirect 15 main start", err, out)
	}
	for _, c := range []pgHostileCase{
		{
			name: "copy_to_stdout_then_shell",
			// The line that made the old guard wave every later line
			// through: the server sends COPY TO STDOUT's rows, asks for
			// no data, and \! is a meta-command drill refuses (and the
			// server would see as a syntax error).
			dump:    "CREATE TABLE t (a int);\nCOPY (SELECT 1) TO STDOUT; SELECT 1 AS \" FROM stdin\";\n\\! touch MARKER\nINSERT INTO t VALUES (1);\n",
			reasons: []string{`line 3 runs the psql meta-command \! touch`},
		},
		{
			name:    "copy_to_stdout_then_read_the_key",
			dump:    "COPY (SELECT 1) TO STDOUT; SELECT 1 AS \" FROM stdin\";\n\\! cat STATE/keys/* > LEAK; touch MARKER\n",
			reasons: []string{`line 2 runs the psql meta-command \! cat`},
		},
		{
			name: "standard_conforming_strings_off",
			// The old guard read 'x\' as a whole literal and the ' on
			// the next line as an open one, up to the end; psql, with
			// standard_conforming_strings off, the other way round, and
			// ran the \!. Now the server reads every statement, and sees
			// a broken one.
			dump:    "SET standard_conforming_strings = off;\nSELECT 'x\\';\n' AS a; \\! touch MARKER\n",
			reasons: []string{`statement 2 (line 2) failed: ERROR: unterminated quoted string`},
		},
		{
			name:    "drop_the_live_database",
			dump:    "CREATE TABLE t (a int);\nDROP DATABASE LIVE WITH (FORCE);\n",
			reasons: []string{"must be owner of database"},
		},
		{
			name:    "symlink_to_a_secret",
			symlink: true,
			reasons: []string{"is a symlink: drill opens backup files only as regular files"},
		},
		{
			name:    "copy_from_program",
			dump:    "CREATE TABLE t (a text);\nCOPY t FROM PROGRAM 'touch MARKER';\n",
			reasons: []string{"pg_execute_server_program"},
		},
		{
			name:    "copy_to_program_the_key",
			dump:    "COPY (SELECT 1) TO PROGRAM 'cat STATE/keys/* > LEAK; touch MARKER';\n",
			reasons: []string{"pg_execute_server_program"},
		},
		{
			name:    "alter_role_postgres_password",
			dump:    "ALTER ROLE postgres PASSWORD 'owned';\n",
			reasons: []string{"must be superuser to alter superuser roles"},
		},
		{
			name:    "create_role_superuser",
			dump:    "CREATE ROLE EVIL SUPERUSER LOGIN PASSWORD 'x';\n",
			reasons: []string{"must be superuser to create superusers"},
		},
		{
			name:    "output_to_a_file",
			dump:    "CREATE TABLE t (a int);\n\\o MARKER\nSELECT 'written';\n",
			reasons: []string{`line 2 runs the psql meta-command \o`},
		},
		{
			name: "dollar_body_then_shell",
			// The body's \! is text (it restores); the one after it is
			// not.
			dump:    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $x$ SELECT '\n\\! touch MARKER\n' $x$;\nSELECT f(); \\! touch MARKER\n",
			reasons: []string{`line 4 runs the psql meta-command \! touch`},
		},
		{
			name:    "server_file_write",
			dump:    "COPY (SELECT 'x') TO 'MARKER';\n",
			reasons: []string{"pg_write_server_files"},
		},
	} {
		t.Run(c.name, c.run)
	}
}

// pgHostileCase is one hand-written hostile plain dump.
type pgHostileCase struct {
	name string
	// dump is the dump's text; MARKER, LEAK, STATE, LIVE and EVIL are
	// replaced by the marker file's path, a leak file's path, the state
	// directory, the live database's name and a role name of the case's.
	dump string
	// symlink: the dump is a symlink to a file holding a secret.
	symlink bool
	reasons []string
}

func (c pgHostileCase) run(t *testing.T) {
	fx := &fixture{dir: t.TempDir()}
	fx.state = fx.path("state")
	mustT(t, os.MkdirAll(filepath.Join(fx.state, "scratch"), 0o700))
	sentinel(t, fx.path("outside/etc"))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	name := "pgh-" + strings.ReplaceAll(c.name, "_", "-") + "-" + id
	live := "live_" + id
	// The marker's directory is one the server's own user may reach and
	// write to (t.TempDir's are 0700): a command the server ran (COPY ...
	// PROGRAM) would leave its marker too.
	markers, err := os.MkdirTemp("", "drill-pghostile-*")
	mustT(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(markers) })
	mustT(t, os.Chmod(markers, 0o1777))
	marker, leak := filepath.Join(markers, "MARKER"), filepath.Join(markers, "LEAK")
	evil := "evil_" + id
	t.Cleanup(func() {
		_, _ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP ROLE IF EXISTS "+evil, "postgres").CombinedOutput()
	})

	// The live database, with rows, and the postgres login's password.
	psql(t, "CREATE DATABASE "+live)
	t.Cleanup(func() {
		_, _ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP DATABASE IF EXISTS "+live+" WITH (FORCE)", "postgres").CombinedOutput()
	})
	liveSQL(t, live, "CREATE TABLE accounts (id int PRIMARY KEY, owner text); INSERT INTO accounts VALUES (1, 'alice'), (2, 'bob'), (3, 'carol')")
	pwBefore := psql(t, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = 'postgres'")

	// Secrets: the password file (trust ignores it, drill reads it) and
	// the file a symlinked dump points to.
	secret := "S3cret-" + id + "-do-not-leak"
	pwCanary := "pw-canary-" + id
	pwFile := fx.path("outside/pg.pass")
	mustT(t, os.WriteFile(pwFile, []byte(pwCanary+"\n"), 0o600))
	mustT(t, os.WriteFile(fx.path("outside/secret.txt"), []byte(secret+"\n"), 0o600))
	mustT(t, os.MkdirAll(fx.path("backup"), 0o755))
	dump := fx.path("backup/db.sql")
	if c.symlink {
		mustT(t, os.Symlink(fx.path("outside/secret.txt"), dump))
	} else {
		text := strings.NewReplacer("MARKER", marker, "LEAK", leak, "STATE", fx.state, "LIVE", live, "EVIL", evil).Replace(c.dump)
		mustT(t, os.WriteFile(dump, []byte(text), 0o644))
	}
	cfgPath := fx.path("drill.yaml")
	mustT(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: %s
services: {s: {owner: ops@example.org}}
drills:
  %s: {service: s, backend: postgres, timeout: 2m, source: {dump: %s, server: "postgres://postgres@127.0.0.1:5432/postgres", password_file: %s}}
`, fx.state, name, dump, pwFile)), 0o644))

	// The signing key exists before the drill, as on a real host.
	if out, errs, code := drillCmd(t, cfgPath, "keys", "init"); code != 0 {
		t.Fatalf("drill keys init: exit %d\n%s%s", code, out, errs)
	}
	before := snapshotOutside(t, fx)
	procsBefore := processesOf([]string{drillBin})
	cmd := exec.Command(drillBin, "-c", cfgPath, "--log-level", "debug", "run", "--json", name)
	cmd.Env = append(os.Environ(), "DRILL_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := cmd.ProcessState.ExitCode()
	var rec record.Record
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rec); err != nil {
		t.Fatalf("drill run: exit %d, no record (%v)\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	t.Logf("verdict %s, reasons %q", rec.Verdict, rec.Reasons)
	if rec.Verdict != record.VerdictFail || code != exitFail {
		t.Errorf("verdict %s, exit %d; want fail, exit %d\nstderr:\n%s", rec.Verdict, code, exitFail, stderr.String())
	}
	for _, w := range c.reasons {
		if !slices.ContainsFunc(rec.Reasons, func(r string) bool { return strings.Contains(r, w) }) {
			t.Errorf("no reason says %q", w)
		}
	}
	if c.symlink && !slices.ContainsFunc(rec.Reasons, func(r string) bool { return strings.Contains(r, dump) }) {
		t.Errorf("no reason names the symlinked dump %s", dump)
	}

	// No command ran, nothing was written.
	for _, p := range []string{marker, leak} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists: the dump ran a command or wrote a file", p)
		}
	}
	// The live database and its rows, and the server's logins, are as
	// they were.
	if got := liveSQL(t, live, "SELECT string_agg(id || ':' || owner, ',' ORDER BY id) FROM accounts"); got != "1:alice,2:bob,3:carol" {
		t.Errorf("live database %s: rows %q", live, got)
	}
	if got := psql(t, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = 'postgres'"); got != pwBefore {
		t.Error("the postgres login's password changed")
	}
	if n := psql(t, "SELECT count(*) FROM pg_roles WHERE rolname = '"+evil+"'"); n != "0" {
		t.Errorf("role %s exists", evil)
	}
	// The scratch database and its role are gone.
	pattern := `drill\_` + strings.ReplaceAll(strings.ReplaceAll(name, "-", "_"), "_", `\_`) + `\_%`
	if n := psql(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE '%s') + (SELECT count(*) FROM pg_roles WHERE rolname LIKE '%[1]s')`, pattern)); n != "0" {
		t.Errorf("%s scratch databases and roles of %s left on the server", n, name)
	}
	// No secret in the output, the log, the evidence store.
	secrets := []string{secret, pwCanary}
	keys, _ := filepath.Glob(filepath.Join(fx.state, "keys", "*.key"))
	for _, k := range keys {
		b, err := os.ReadFile(k)
		mustT(t, err)
		for l := range strings.SplitSeq(string(b), "\n") {
			if l = strings.TrimSpace(l); len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				secrets = append(secrets, l)
			}
		}
	}
	if len(keys) == 0 {
		t.Error("no signing key (keys/*.key) in the state directory: the case proves nothing about it")
	}
	db, err := os.ReadFile(filepath.Join(fx.state, "drill.db"))
	mustT(t, err)
	hist, _, _ := drillCmd(t, cfgPath, "history", "--json")
	for _, s := range secrets {
		for where, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "drill.db": string(db), "history": hist} {
			if strings.Contains(text, s) {
				t.Errorf("a secret (%.12s...) is in %s", s, where)
			}
		}
	}
	// Scratch is empty, nothing else outside it changed, no process is
	// left, and the log verifies.
	if ents, err := os.ReadDir(filepath.Join(fx.state, "scratch")); err != nil || len(ents) != 0 {
		t.Errorf("scratch root holds %d entries (%v)", len(ents), err)
	}
	for _, d := range diffSnapshots(before, snapshotOutside(t, fx)) {
		t.Errorf("outside scratch: %s", d)
	}
	if left := processesOf([]string{drillBin}); len(left) > len(procsBefore) {
		t.Errorf("processes outlived drill run: %v", left)
	}
	if out, errs, code := drillCmd(t, cfgPath, "evidence", "verify"); code != 0 || !strings.Contains(out, "evidence log verified") {
		t.Errorf("evidence verify: exit %d\n%s%s", code, out, errs)
	}
}

// liveSQL runs sql in database db and returns its output.
func liveSQL(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc", sql, db).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s on %s: %v: %s", sql, db, err, out)
	}
	return strings.TrimSpace(string(out))
}
