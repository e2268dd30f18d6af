package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// testServer is the real PostgreSQL server the tests restore on (trust
// authentication for user postgres).
const testServer = "postgres://postgres@127.0.0.1:5432/postgres"

const startHint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// adminConn connects to the test server's maintenance database, failing
// the test (never skipping it) when the server is not running.
func adminConn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testServer)
	if err != nil {
		t.Fatalf("the tests need a PostgreSQL server at 127.0.0.1:5432 with trust authentication for user postgres: %v; %s", err, startHint)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// drillName returns a unique drill name for t, and after the test asserts
// that no scratch database of that drill is left on the server.
func drillName(t *testing.T) string {
	t.Helper()
	name := "pgtest_" + randHex(4)
	conn := adminConn(t)
	t.Cleanup(func() {
		var left []string
		rows, err := conn.Query(context.Background(), "SELECT datname FROM pg_database WHERE datname LIKE $1", scratchdb.Prefix+name+"%")
		if err != nil {
			t.Errorf("list databases: %v", err)
			return
		}
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("list databases: %v", err)
		}
		for _, db := range left {
			t.Errorf("scratch database %s is left on the server", db)
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
		rows, err = conn.Query(context.Background(), "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", scratchdb.Prefix+name+"%")
		if err != nil {
			t.Errorf("list roles: %v", err)
			return
		}
		roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("list roles: %v", err)
		}
		for _, r := range roles {
			t.Errorf("scratch role %s is left on the server", r)
			_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
		}
	})
	return name
}

// recorder records the events of a restore.
type recorder = plugintest.Recorder

// fixture is the source database's dumps in every format, and its tables
// as fingerprinted on the source itself.
type fixture struct {
	dir    string
	source string // the source database's name (dropped)
	tables []plugins.Table
	// dumps by format: custom, directory, tar, plain, plain.gz, plain.zst,
	// create (plain with --create), clean (plain with --clean --create).
	dumps map[string]string
}

var (
	fixtureOnce sync.Once
	fix         *fixture
	fixErr      error
	fixDir      string
)

func TestMain(m *testing.M) {
	plugintest.ServePlugin(New) // when run as a plugin process (sandbox_test.go)
	code := m.Run()
	if fixDir != "" {
		_ = os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// getFixture builds the source database with pgbench -i -s 1 and tables
// that are hard to fingerprint, dumps it with the real pg_dump, takes its
// fingerprints and drops it; once per test binary.
func getFixture(t *testing.T) *fixture {
	t.Helper()
	adminConn(t)
	fixtureOnce.Do(func() { fix, fixErr = buildFixture() })
	if fixErr != nil {
		t.Fatalf("build the source database and its dumps: %v", fixErr)
	}
	return fix
}

const extraSQL = `
CREATE TABLE notes (id int PRIMARY KEY, body text, t text, at timestamptz, amount float8);
INSERT INTO notes VALUES
 (1, E'line one\nline two\n', 'x', '2024-01-02 03:04:05+00', 0.1),
 (2, 'it''s "quoted" \ and back\slashed', NULL, NULL, 1e300),
 (3, E'tab\there\r\nCRLF', 'y', '1999-12-31 23:59:59.999+05', -0.0),
 (4, '\.', '\N', NULL, NULL);
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (2, 'b'), (1, 'a'), (1, 'a'), (3, NULL);
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."odd ""name""" (k1 text, k2 int, v text, PRIMARY KEY (k2, k1));
INSERT INTO "Mixed Case"."odd ""name""" VALUES ('b', 1, 'one'), ('a', 2, 'two'), ('a', 1, E'x\ny');
CREATE FUNCTION grants_sql() RETURNS text LANGUAGE sql AS $body$
SELECT '
GRANT SELECT ON notes TO reporting;
ALTER TABLE notes OWNER TO app;
\connect elsewhere
'::text
$body$;
`

// grantsSQL is what grants_sql() returns: a function body whose lines
// look like statements and a meta-command, which a plain dump's guard must
// leave as they are.
const grantsSQL = "\nGRANT SELECT ON notes TO reporting;\nALTER TABLE notes OWNER TO app;\n\\connect elsewhere\n"

func buildFixture() (_ *fixture, err error) {
	dir, err := os.MkdirTemp("", "drill-pgtest-*")
	if err != nil {
		return nil, err
	}
	fixDir = dir
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testServer)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, startHint)
	}
	defer admin.Close(ctx)
	src := "pgtest_src_" + randHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+src); err != nil {
		return nil, err
	}
	defer func() {
		if _, derr := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+src+" WITH (FORCE)"); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop source database %s: %w", src, derr))
		}
	}()
	pgEnv := append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT=5432", "PGUSER=postgres")
	runCmd := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Env = pgEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := runCmd("pgbench", "-i", "-s", "1", "-q", src); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig("postgres://postgres@127.0.0.1:5432/" + src)
	if err != nil {
		return nil, err
	}
	sconn, err := pgx.ConnectConfig(ctx, scratchConfig(cfg, src))
	if err != nil {
		return nil, err
	}
	defer sconn.Close(ctx)
	if _, err := sconn.Exec(ctx, extraSQL); err != nil {
		return nil, fmt.Errorf("create extra tables: %w", err)
	}
	f := &fixture{dir: dir, source: src, dumps: map[string]string{}}
	if f.tables, err = fingerprint(ctx, sconn, 0); err != nil {
		return nil, err
	}
	_ = sconn.Close(ctx)
	for _, d := range []struct{ name, file string }{
		{"custom", "db.dump"}, {"directory", "db.dir"}, {"tar", "db.tar"}, {"plain", "db.sql"}, {"create", "db.sql"}, {"clean", "db.sql"},
	} {
		sub := filepath.Join(dir, d.name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, err
		}
		out := filepath.Join(sub, d.file)
		args := map[string][]string{"custom": {"-Fc"}, "directory": {"-Fd"}, "tar": {"-Ft"}, "plain": {"-Fp"}, "create": {"-Fp", "--create"},
			"clean": {"-Fp", "--clean", "--create"}}[d.name]
		if err := runCmd("pg_dump", append(args, "-f", out, src)...); err != nil {
			return nil, err
		}
		f.dumps[d.name] = out
	}
	// plain.gz and plain.zst: the plain dump through the real gzip and
	// zstd, as pg_dump db | gzip > db.sql.gz.
	for _, z := range []struct{ name, tool string }{{"gz", "gzip"}, {"zst", "zstd"}} {
		zDir := filepath.Join(dir, "plain."+z.name)
		if err := os.Mkdir(zDir, 0o755); err != nil {
			return nil, err
		}
		out := filepath.Join(zDir, "db.sql."+z.name)
		cmd := exec.Command("sh", "-c", z.tool+` -q -c "$1" > "$2"`, "sh", f.dumps["plain"], out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", z.tool, err, msg)
		}
		f.dumps["plain."+z.name] = out
	}
	return f, nil
}

// copyDump copies a fixture dump file into a new folder of t's and
// returns its path there.
func copyDump(t *testing.T, from, name string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sourceFor(dump string) plugins.Source {
	return plugins.Source{"dump": dump, "server": testServer}
}

// restoreOnce lists the newest point of src, restores it with checks
// and cleans up, returning what Restore returned.
func restoreOnce(t *testing.T, b plugins.Backend, src plugins.Source, checks *plugins.DatabaseChecks) (*plugins.RestoreResponse, *recorder, error) {
	t.Helper()
	return restoreWith(t, b, src, checks, 0)
}

// restoreWith is restoreOnce with a max_scratch_bytes.
func restoreWith(t *testing.T, b plugins.Backend, src plugins.Source, checks *plugins.DatabaseChecks, maxBytes int64) (*plugins.RestoreResponse, *recorder, error) {
	t.Helper()
	ctx := t.Context()
	list, err := b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatalf("ListRestorePoints: %v", err)
	}
	if len(list.Points) == 0 {
		t.Fatal("ListRestorePoints: no dumps")
	}
	name := drillName(t)
	rec := &recorder{}
	target := t.TempDir()
	resp, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: target,
		DrillName: name, DatabaseChecks: checks, MaxBytes: maxBytes}, rec)
	for i := range 2 { // Cleanup is idempotent
		if _, cerr := b.Cleanup(ctx, &plugins.CleanupRequest{Source: src, Target: target, DrillName: name}); cerr != nil {
			t.Errorf("Cleanup %d: %v", i+1, cerr)
		}
	}
	if len(rec.Events().Progress) == 0 {
		t.Error("Restore reported no progress")
	}
	if entries, _ := os.ReadDir(target); len(entries) > 0 {
		t.Errorf("Restore wrote %d entries into the target; a database backend writes none", len(entries))
	}
	return resp, rec, err
}

func problems(ps []plugins.Problem, kind plugins.ProblemKind) []plugins.Problem {
	var out []plugins.Problem
	for _, p := range ps {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func checkNamed(t *testing.T, checks []plugins.Check, name string) []plugins.Check {
	t.Helper()
	var out []plugins.Check
	for _, c := range checks {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func tableNames(ts []plugins.Table) []string {
	var out []string
	for _, tb := range ts {
		out = append(out, tb.Name)
	}
	return slices.Sorted(slices.Values(out))
}
