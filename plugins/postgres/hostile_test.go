package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/plugins"
)

// liveDB creates a database standing for a live one, with rows, and
// returns its name; after the test it is dropped.
func liveDB(t *testing.T) string {
	t.Helper()
	conn := adminConn(t)
	name := "pgtest_live_" + randHex(4)
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	c, err := pgx.Connect(t.Context(), "postgres://postgres@127.0.0.1:5432/"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(t.Context(), "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 3)"); err != nil {
		t.Fatal(err)
	}
	return name
}

// liveRows counts the rows of the live database's table, -1 when the
// database is gone.
func liveRows(t *testing.T, name string) int {
	t.Helper()
	c, err := pgx.Connect(t.Context(), "postgres://postgres@127.0.0.1:5432/"+name)
	if err != nil {
		return -1
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		return -1
	}
	return n
}

// restoreSQL restores a plain dump holding sql.
func restoreSQL(t *testing.T, sql string) (*plugins.RestoreResponse, error) {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "hostile.sql")
	if err := os.WriteFile(dump, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
	return resp, err
}

// TestHostilePlainDumps: plain dumps written to escape the scratch
// database. None runs a command, none reaches the live database, none
// passes, and the server, not a filter, says no.
func TestHostilePlainDumps(t *testing.T) {
	live := liveDB(t)
	for _, tc := range []struct {
		name string
		sql  string // MARKER is replaced by a path that must not appear
		want string // in the fail's message
	}{
		{"copy to stdout then a fake from stdin", "CREATE TABLE x (a int);\nCOPY (SELECT 1) TO STDOUT; SELECT 1 AS \" FROM stdin\";\n\\! touch MARKER\n", `\!`},
		{"standard_conforming_strings off", "SET standard_conforming_strings = off;\nSELECT 'a\\' ; \\! touch MARKER\n';\n", ""},
		{"drop a live database", "DROP DATABASE " + live + " WITH (FORCE);\n", "must be owner of database " + live},
		{"reset role first", "RESET ROLE;\nRESET SESSION AUTHORIZATION;\nSELECT 1;\nDROP DATABASE " + live + " WITH (FORCE);\n", "must be owner of database " + live},
		{"copy from program", "CREATE TABLE x (a text);\nCOPY x FROM PROGRAM 'touch MARKER';\n", "pg_execute_server_program"},
		{"copy to program", "COPY (SELECT 1) TO PROGRAM 'touch MARKER';\n", "pg_execute_server_program"},
		{"copy to a server file", "COPY (SELECT 1) TO 'MARKER';\n", "pg_write_server_files"},
		{"read a server file", "CREATE TABLE x (a text);\nCOPY x FROM '/etc/passwd';\n", "pg_read_server_files"},
		{"alter system", "ALTER SYSTEM SET archive_command = 'touch MARKER';\n", "permission denied"},
		{"create a superuser", "CREATE ROLE pgtest_evil SUPERUSER LOGIN;\n", "must be superuser to create superusers"},
		{"create a role", "CREATE ROLE pgtest_evil LOGIN;\n", "permission denied to create role"},
		{"steal the postgres login", "ALTER ROLE postgres PASSWORD 'x';\n", "must be superuser to alter superuser roles"},
		{"untrusted language", "CREATE FUNCTION f() RETURNS int LANGUAGE c AS '/lib/x.so', 'f';\n", "permission denied for language c"},
		{"meta-command in a dollar body then outside", "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT '\\! x' $$;\n\\o MARKER\nSELECT 1;\n", `\o`},
		{"a COPY the splitter does not see", "CREATE TABLE x (a int);\n/* hidden */ COPY x FROM stdin; SELECT 1;\n1\n\\.\n", "the server asked for COPY data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "MARKER")
			resp, err := restoreSQL(t, strings.ReplaceAll(tc.sql, "MARKER", marker))
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			ps := problems(resp.Problems, plugins.ProblemFail)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, tc.want) {
				t.Errorf("problems %+v, want a fail saying %q", resp.Problems, tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("%s was created", marker)
			}
			if n := liveRows(t, live); n != 3 {
				t.Errorf("live database %s: %d rows, want 3", live, n)
			}
		})
	}
	var n int
	if err := adminConn(t).QueryRow(t.Context(), "SELECT count(*) FROM pg_roles WHERE rolname = 'pgtest_evil'").Scan(&n); err != nil || n != 0 {
		t.Errorf("role pgtest_evil: %d, %v", n, err)
	}
}

// TestSecretsStayOut: a dump that is a symlink to a secret is refused
// naming the link, unread; a dump whose first word is a secret fails
// without quoting it.
func TestSecretsStayOut(t *testing.T) {
	const secret = "S3cretTokenXYZ"
	dir := t.TempDir()
	secretFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(secretFile, []byte(secret+" is the key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "db.sql")
	if err := os.Symlink(secretFile, link); err != nil {
		t.Fatal(err)
	}
	resp, rec, err := restoreOnce(t, New(), sourceFor(link), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(resp.Problems, plugins.ProblemFail)
	if len(ps) != 1 || !strings.Contains(ps[0].Message, link+" is a symlink") || strings.Contains(fmt.Sprint(resp), secret) {
		t.Errorf("symlinked dump: problems %+v, want a fail naming %s and no secret", resp.Problems, link)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("symlinked dump: scratch %v", rec.Events().Scratch)
	}
	for name, sql := range map[string]string{
		"first word":   secret + " is the key\n",
		"mid line":     "SELECT 1;\nSELECT 2 + " + secret + ";\n",
		"relation":     "SELECT 1;\nSELECT * FROM " + secret + ";\n",
		"bad literal":  "CREATE TABLE x (a int);\nINSERT INTO x VALUES ('" + secret + "');\n",
		"copy data":    "CREATE TABLE x (a int);\nCOPY x (a) FROM stdin;\n" + secret + "\n\\.\n",
		"unterminated": "SELECT '" + secret + "\n",
	} {
		resp, err := restoreSQL(t, sql)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ps := problems(resp.Problems, plugins.ProblemFail)
		if len(ps) != 1 || strings.Contains(strings.ToLower(fmt.Sprint(resp)), strings.ToLower(secret)) {
			t.Errorf("%s: problems %+v, want one fail without the secret", name, resp.Problems)
			continue
		}
		t.Logf("%s: %s", name, ps[0].Message)
	}
}

// TestSymlinkedSidecarAndDirectory: a checksum file or a directory-format
// member that is a symlink refuses the dump, naming it.
func TestSymlinkedSidecarAndDirectory(t *testing.T) {
	f := getFixture(t)
	dump := copyDump(t, f.dumps["custom"], "db.dump")
	if err := os.Symlink("/etc/passwd", dump+".sha256"); err != nil {
		t.Fatal(err)
	}
	resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps := problems(resp.Problems, plugins.ProblemFail); len(ps) != 1 || !strings.Contains(ps[0].Message, dump+".sha256 is a symlink") {
		t.Errorf("symlinked sidecar: %+v", resp.Problems)
	}
	dir := filepath.Join(t.TempDir(), "db.dir")
	if out, err := exec.Command("cp", "-a", f.dumps["directory"], dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	entries, _ := os.ReadDir(dir)
	var member string
	for _, e := range entries {
		if e.Name() != "toc.dat" {
			member = filepath.Join(dir, e.Name())
			break
		}
	}
	if err := os.Remove(member); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", member); err != nil {
		t.Fatal(err)
	}
	resp, _, err = restoreOnce(t, New(), sourceFor(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps := problems(resp.Problems, plugins.ProblemFail); len(ps) != 1 || !strings.Contains(ps[0].Message, member+" is a symlink") {
		t.Errorf("directory with a symlinked member: %+v", resp.Problems)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.Symlink("/etc/passwd", pw); err != nil {
		t.Fatal(err)
	}
	src := sourceFor(f.dumps["custom"])
	src["password_file"] = pw
	if _, _, err := restoreOnce(t, New(), src, nil); err == nil || !strings.Contains(err.Error(), "password file "+pw+" is a symlink") {
		t.Errorf("symlinked password file: %v", err)
	}
}

// TestScratchRole: the restore logs in as a role of its own, with no
// power beyond its database, which PUBLIC may not connect to; Cleanup
// drops both.
func TestScratchRole(t *testing.T) {
	f := getFixture(t)
	conn := adminConn(t)
	b := New()
	name := drillName(t)
	src := sourceFor(f.dumps["plain"])
	src["jobs"] = int64(2)
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: f.dumps["plain"], Target: t.TempDir(), DrillName: name}, &recorder{})
	if err != nil || len(resp.Problems) > 0 {
		t.Fatalf("Restore: %v %+v", err, resp)
	}
	role := resp.Details["restore_role"]
	if role == "" || role != resp.Details["scratch_database"] {
		t.Fatalf("restore_role %q, scratch_database %q", role, resp.Details["scratch_database"])
	}
	var attrs []bool
	var limit int
	var owner, acl string
	if err := conn.QueryRow(t.Context(), `SELECT ARRAY[rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls], rolconnlimit,
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1), (SELECT datacl::text FROM pg_database WHERE datname = $1)
		FROM pg_roles WHERE rolname = $1`, role).Scan(&attrs, &limit, &owner, &acl); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(attrs, []bool{true, false, false, false, false, false, false}) || limit != 6 || owner != role {
		t.Errorf("role %s: attributes %v, connection limit %d, owner of its database %s", role, attrs, limit, owner)
	}
	// PUBLIC (an empty grantee) has neither c (CONNECT) nor T (TEMP).
	if strings.Contains(acl, "{=") || strings.Contains(acl, ",=") {
		t.Errorf("scratch database ACL %s grants PUBLIC", acl)
	}
	if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: src, DrillName: name}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n); err != nil || n != 0 {
		t.Errorf("role %s after Cleanup: %d, %v", role, n, err)
	}
}

// TestLoginPrivileges: a configured login with CREATEROLE and CREATEDB
// (no superuser) restores; one without them is told what to grant.
func TestLoginPrivileges(t *testing.T) {
	f := getFixture(t)
	conn := adminConn(t)
	admin, weak := "pgtest_admin_"+randHex(4), "pgtest_weak_"+randHex(4)
	for _, q := range []string{"CREATE ROLE " + admin + " LOGIN CREATEROLE CREATEDB", "CREATE ROLE " + weak + " LOGIN CREATEDB"} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, r := range []string{admin, weak} {
			if _, err := conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+r); err != nil {
				t.Errorf("drop role %s: %v", r, err)
			}
		}
	})
	for _, dump := range []string{"custom", "plain"} {
		src := plugins.Source{"dump": f.dumps[dump], "server": "postgres://" + admin + "@127.0.0.1:5432/postgres"}
		resp, _, err := restoreOnce(t, New(), src, nil)
		if err != nil || len(resp.Problems) > 0 || !slices.Equal(resp.Tables, f.tables) {
			t.Errorf("%s as a CREATEROLE CREATEDB login: %v %+v", dump, err, resp)
		}
	}
	src := plugins.Source{"dump": f.dumps["custom"], "server": "postgres://" + weak + "@127.0.0.1:5432/postgres"}
	_, rec, err := restoreOnce(t, New(), src, nil)
	if err == nil || !strings.Contains(err.Error(), "needs CREATEROLE and CREATEDB") || !strings.Contains(err.Error(), "127.0.0.1:5432") {
		t.Errorf("a login without CREATEROLE: %v", err)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("announced %v", rec.Events().Scratch)
	}
}

// TestPgDumpPlainAsRole: what pg_dump writes for owners, grants to a
// role the scratch server lacks, a view, functions with $$ bodies,
// sequences, a trusted extension and COPY data full of backslashes, tabs
// and non-ASCII restores as the scratch role, plain and archived, with the
// source's fingerprints.
func TestPgDumpPlainAsRole(t *testing.T) {
	conn := adminConn(t)
	ctx := context.Background()
	role, db := "pgtest_owner_"+randHex(4), "pgtest_src_"+randHex(4)
	for _, q := range []string{"CREATE ROLE " + role, "CREATE DATABASE " + db} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The role goes last: it owns objects in the source database.
	defer func() {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	}()
	defer func() { _, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") }()
	sc, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sc.Exec(ctx, `
CREATE EXTENSION citext;
CREATE SEQUENCE counter START 40;
SELECT nextval('counter'), nextval('counter');
CREATE TABLE items (id bigserial PRIMARY KEY, name citext UNIQUE, body text, n int DEFAULT nextval('counter'));
INSERT INTO items (name, body) SELECT 'Item ' || i, E'tab\there\\back\\slash\nnewline ü € 𝄞 \\.' || repeat('x', i % 50) FROM generate_series(1, 20000) i;
INSERT INTO items (name, body) VALUES ('\.', E'\\.'), ('\N', NULL);
CREATE VIEW item_names AS SELECT name FROM items WHERE id < 10;
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  -- a ; and a \! inside a body
  RETURN upper(t) || ';' || E'\\!';
END $$;
CREATE FUNCTION tagged() RETURNS text LANGUAGE sql AS $fn$ SELECT $$it's $$ || 'x' $fn$;
ALTER TABLE items OWNER TO `+role+`;
ALTER VIEW item_names OWNER TO `+role+`;
ALTER FUNCTION shout(text) OWNER TO `+role+`;
GRANT SELECT ON items TO `+role+`;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO `+role+`;
COMMENT ON TABLE items IS 'items; with a semicolon';
`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fingerprint(ctx, sc, 0)
	_ = sc.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []struct{ file, format string }{{"db.sql", "-Fp"}, {"db.dump", "-Fc"}} {
		out := filepath.Join(dir, d.file)
		if b, err := exec.Command("pg_dump", "-h", "127.0.0.1", "-U", "postgres", d.format, "-f", out, db).CombinedOutput(); err != nil {
			t.Fatalf("pg_dump: %v\n%s", err, b)
		}
		resp, _, err := restoreOnce(t, New(), sourceFor(out), &plugins.DatabaseChecks{SQL: []plugins.SQLCheck{
			{Query: "SELECT shout('a') || tagged()", Expect: `= 'A;\!it''s x'`},
			{Query: "SELECT count(*) FROM item_names", Expect: "= 9"},
			{Query: "SELECT last_value FROM counter", Expect: "= 20043"},
		}})
		if err != nil {
			t.Fatalf("%s: %v", d.file, err)
		}
		if len(resp.Problems) > 0 || !slices.Equal(resp.Tables, want) {
			t.Fatalf("%s: problems %+v, tables %+v, want %+v", d.file, resp.Problems, resp.Tables, want)
		}
		for _, c := range resp.Checks {
			if !c.OK {
				t.Errorf("%s: check %s: %s", d.file, c.Name, c.Detail)
			}
		}
		t.Logf("%s: %v", d.file, resp.Details)
	}
}

// TestPlainCancelled: the drill's end cancels the statement under way on
// the server (a plain dump has no client process to stop), and Cleanup
// drops the database and the role whose session was busy.
func TestPlainCancelled(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "slow.sql")
	if err := os.WriteFile(dump, []byte("CREATE TABLE t (a int);\nSELECT pg_sleep(60);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := drillName(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	b := New()
	start := time.Now()
	_, err := b.Restore(ctx, &plugins.RestoreRequest{Source: sourceFor(dump), PointID: dump, Target: t.TempDir(), DrillName: name}, &recorder{})
	t.Logf("Restore returned after %s: %v", time.Since(start), err)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 8*time.Second {
		t.Errorf("Restore: %v after %s, want the deadline within seconds (the statement cancelled, not the connection cut after cancelGrace)", err, time.Since(start))
	}
	if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: sourceFor(dump), DrillName: name}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := adminConn(t).QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d sessions still sleep (%v)", n, err)
	}
}

// TestWhatAScratchRoleMayNot: what pg_dump writes that only a superuser
// or an owner may run: older dumps' plpgsql extension and its comment pass
// (the comment's "must be owner" is let pass and listed), a trusted
// extension is created, an untrusted one is an error naming the reason.
func TestWhatAScratchRoleMayNot(t *testing.T) {
	resp, err := restoreSQL(t, "CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;\n"+
		"COMMENT ON EXTENSION plpgsql IS 'PL/pgSQL procedural language';\n"+
		"CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;\n"+
		"COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';\n"+
		"CREATE TABLE t (a text);\nINSERT INTO t VALUES (encode(public.digest('x', 'sha256'), 'hex'));\n")
	if err != nil || len(resp.Problems) > 0 || len(resp.Tables) != 1 {
		t.Fatalf("Restore: %v %+v", err, resp)
	}
	if got := resp.Details["plain_dump_tolerated"]; !strings.Contains(got, "1 statements") || !strings.Contains(got, "COMMENT ON EXTENSION PLPGSQL") {
		t.Errorf("plain_dump_tolerated = %q", got)
	}
	resp, err = restoreSQL(t, "CREATE EXTENSION IF NOT EXISTS adminpack WITH SCHEMA pg_catalog;\nCREATE TABLE t (a int);\n")
	if err != nil {
		t.Fatal(err)
	}
	if ps := problems(resp.Problems, plugins.ProblemError); len(ps) != 1 || !strings.Contains(ps[0].Message, "permission denied to create extension") ||
		!strings.Contains(ps[0].Message, "not trusted") {
		t.Errorf("an untrusted extension: %+v", resp.Problems)
	}
}

// A table whose dump forces row-level security on its owner, with a policy
// that hides every row: restored and fingerprinted as the scratch role (its
// owner), all its rows still count, as they did when the superuser did it.
func TestForcedRowSecurityCounted(t *testing.T) {
	resp, err := restoreSQL(t, "CREATE TABLE secrets (id int PRIMARY KEY, v text);\n"+
		"INSERT INTO secrets VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"+
		"ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;\n"+
		"ALTER TABLE secrets FORCE ROW LEVEL SECURITY;\n"+
		"CREATE POLICY nobody ON secrets USING (false);\n")
	if err != nil || len(resp.Problems) > 0 {
		t.Fatalf("Restore: %v %+v", err, resp)
	}
	if len(resp.Tables) != 1 || resp.Tables[0].Rows != 3 {
		t.Fatalf("tables = %+v, want public.secrets with 3 rows", resp.Tables)
	}
}
