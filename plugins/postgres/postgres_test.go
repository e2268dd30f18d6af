package postgres

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
	"github.com/jackc/pgx/v5"
)

// TestRestoreFormats restores the same database dumped by the real
// pg_dump in every format and compares the restored tables' fingerprints
// with the source's.
func TestRestoreFormats(t *testing.T) {
	f := getFixture(t)
	for _, tc := range []struct {
		dump, format string
		jobs         int64
		sidecar      bool
	}{
		{dump: "custom", format: "custom"},
		{dump: "custom", format: "custom", jobs: 2, sidecar: true},
		{dump: "directory", format: "directory", jobs: 2},
		{dump: "tar", format: "tar"},
		{dump: "plain", format: "plain", sidecar: true},
		{dump: "plain.gz", format: "plain+gzip"},
		{dump: "plain.zst", format: "plain+zstd"},
		// pg_dump --create and --clean --create: the scratch database
		// stands in for the one they create, as with pg_restore.
		{dump: "create", format: "plain"},
		{dump: "clean", format: "plain"},
	} {
		t.Run(fmt.Sprintf("%s/jobs=%d/sidecar=%v", tc.dump, tc.jobs, tc.sidecar), func(t *testing.T) {
			t.Parallel()
			dump := f.dumps[tc.dump]
			if tc.sidecar {
				dump = copyDump(t, dump, filepath.Base(dump))
				data, _ := os.ReadFile(dump)
				sum := sha256.Sum256(data)
				line := hex.EncodeToString(sum[:]) + "  " + filepath.Base(dump) + "\n"
				if err := os.WriteFile(dump+".sha256", []byte(line), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := sourceFor(filepath.Join(filepath.Dir(dump), "db.*"))
			if tc.jobs > 0 {
				src["jobs"] = tc.jobs
			}
			// A function body that looks like owner, privilege and
			// meta-command lines comes back as it was.
			body := &plugins.DatabaseChecks{SQL: []plugins.SQLCheck{{Name: "body",
				Query: "SELECT md5(grants_sql())", Expect: fmt.Sprintf("= '%x'", md5.Sum([]byte(grantsSQL)))}}}
			resp, rec, err := restoreOnce(t, New(), src, body)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if len(resp.Checks) != 1 || !resp.Checks[0].OK {
				t.Errorf("function body check: %+v", resp.Checks)
			}
			if len(resp.Problems) > 0 {
				t.Fatalf("Restore: problems %+v, want none", resp.Problems)
			}
			if resp.Point.ID != dump {
				t.Errorf("restored %s, want %s (the sidecar is not a dump)", resp.Point.ID, dump)
			}
			if !slices.Equal(resp.Tables, f.tables) {
				t.Errorf("restored tables\n%+v\nwant the source's\n%+v", resp.Tables, f.tables)
			}
			if resp.Files != int64(len(f.tables)) {
				t.Errorf("Files %d, want %d tables", resp.Files, len(f.tables))
			}
			if resp.Bytes <= 0 || resp.Bytes != resp.Point.Size {
				t.Errorf("Bytes %d, want the dump's size %d", resp.Bytes, resp.Point.Size)
			}
			if got := resp.Details["format"]; got != tc.format {
				t.Errorf("format %q, want %q", got, tc.format)
			}
			if v := resp.Details["pg_dump_version"]; !strings.HasPrefix(v, "1") || strings.HasPrefix(v, ":") {
				t.Errorf("pg_dump_version %q, want a version", v)
			}
			if resp.Details["server_version"] == "" {
				t.Error("no server_version")
			}
			if len(rec.Events().Scratch) != 1 || resp.Details["scratch_database"] != rec.Events().Scratch[0] {
				t.Errorf("scratch announced %v, scratch_database %q", rec.Events().Scratch, resp.Details["scratch_database"])
			}
			// pgbench at scale 1 is about 15 MB with its indexes.
			if n, _ := strconv.ParseInt(resp.Details["scratch_database_bytes"], 10, 64); n < 10<<20 || n > 100<<20 {
				t.Errorf("scratch_database_bytes %q, want the restored database's growth", resp.Details["scratch_database_bytes"])
			}
		})
	}
}

func TestFingerprintsSeeContent(t *testing.T) {
	f := getFixture(t)
	want := map[string]bool{"public.pgbench_accounts": true, "public.notes": true, "public.nokey": true,
		`Mixed Case.odd "name"`: true, "public.pgbench_history": true}
	for _, tb := range f.tables {
		delete(want, tb.Name)
		if len(tb.Fingerprint) != 32 {
			t.Errorf("table %s: fingerprint %q, want an MD5", tb.Name, tb.Fingerprint)
		}
		if tb.Name == "public.pgbench_accounts" && tb.Rows != 100000 {
			t.Errorf("pgbench_accounts: %d rows, want 100000", tb.Rows)
		}
	}
	if len(want) > 0 {
		t.Errorf("tables %v not fingerprinted; got %v", want, tableNames(f.tables))
	}
}

// TestRestoreDamage: damage in the dump is a fail problem, never an error.
func TestRestoreDamage(t *testing.T) {
	f := getFixture(t)
	t.Run("TruncatedCustom", func(t *testing.T) {
		t.Parallel()
		data, _ := os.ReadFile(f.dumps["custom"])
		dump := filepath.Join(t.TempDir(), "db.dump")
		if err := os.WriteFile(dump, data[:len(data)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
		resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
		if err != nil {
			t.Fatalf("Restore: %v; damage must be a problem", err)
		}
		ps := problems(resp.Problems, plugins.ProblemFail)
		if len(ps) != 1 || !strings.Contains(ps[0].Message, "pg_restore: error: could not read from input file") {
			t.Fatalf("problems %+v, want pg_restore's message", resp.Problems)
		}
		if len(resp.Tables) != 0 {
			t.Errorf("tables %v from a failed restore", resp.Tables)
		}
	})
	t.Run("TruncatedPlainGzip", func(t *testing.T) {
		t.Parallel()
		data, _ := os.ReadFile(f.dumps["plain.gz"])
		dump := filepath.Join(t.TempDir(), "db.sql.gz")
		if err := os.WriteFile(dump, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
		if err != nil {
			t.Fatalf("Restore: %v; damage must be a problem", err)
		}
		if len(problems(resp.Problems, plugins.ProblemFail)) == 0 {
			t.Fatalf("problems %+v, want a fail", resp.Problems)
		}
	})
	t.Run("NotADump", func(t *testing.T) {
		t.Parallel()
		for name, body := range map[string][]byte{
			"binary": {0x89, 'P', 'N', 'G', 0, 0, 1, 2, 3},
			"empty":  {},
		} {
			dump := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(dump, body, 0o644); err != nil {
				t.Fatal(err)
			}
			resp, rec, err := restoreOnce(t, New(), sourceFor(dump), nil)
			if err != nil {
				t.Fatalf("Restore(%s): %v", name, err)
			}
			ps := problems(resp.Problems, plugins.ProblemFail)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, dump+" is not a PostgreSQL dump (") {
				t.Errorf("Restore(%s): problems %+v, want %s is not a PostgreSQL dump", name, resp.Problems, dump)
			}
			if len(rec.Events().Scratch) > 0 {
				t.Errorf("Restore(%s) created scratch database %v", name, rec.Events().Scratch)
			}
		}
	})
	t.Run("ClusterDump", func(t *testing.T) {
		t.Parallel()
		// pg_dumpall writes roles and then every database; drill
		// restores one database, and says what to dump instead.
		dump := filepath.Join(t.TempDir(), "all.sql")
		if out, err := exec.Command("pg_dumpall", "-h", "127.0.0.1", "-U", "postgres", "--globals-only", "-f", dump).CombinedOutput(); err != nil {
			t.Fatalf("pg_dumpall: %v\n%s", err, out)
		}
		resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		ps := problems(resp.Problems, plugins.ProblemError)
		if len(ps) != 1 || len(resp.Problems) != 1 || !strings.Contains(ps[0].Message, "pg_dumpall") || !strings.Contains(ps[0].Message, "dump each database with pg_dump") {
			t.Fatalf("problems %+v, want one error saying to dump each database with pg_dump", resp.Problems)
		}
	})
}

func TestSidecar(t *testing.T) {
	f := getFixture(t)
	for name, body := range map[string]string{
		"mismatch":  strings.Repeat("ab", 32) + "  db.dump\n",
		"malformed": "not a checksum\n",
		"otherfile": strings.Repeat("ab", 32) + "  other.dump\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dump := copyDump(t, f.dumps["custom"], "db.dump")
			sidecar := dump + ".sha256"
			if err := os.WriteFile(sidecar, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			resp, rec, err := restoreOnce(t, New(), sourceFor(dump), nil)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			ps := problems(resp.Problems, plugins.ProblemFail)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, dump) || !strings.Contains(ps[0].Message, sidecar) {
				t.Fatalf("problems %+v, want one fail naming %s and %s", resp.Problems, dump, sidecar)
			}
			if len(rec.Events().Scratch) > 0 || len(resp.Tables) > 0 {
				t.Errorf("restored despite the checksum: scratch %v, tables %v", rec.Events().Scratch, resp.Tables)
			}
		})
	}
}

func TestDatabaseChecks(t *testing.T) {
	f := getFixture(t)
	checks := &plugins.DatabaseChecks{
		Tables:  []string{"pgbench_accounts", "public.notes", `Mixed Case.odd "name"`, "invoices", "other.notes"},
		MinRows: map[string]int64{"pgbench_branches": 1000, "pgbench_accounts": 100000},
		SQL: []plugins.SQLCheck{
			{Query: "SELECT count(*) FROM pgbench_accounts WHERE abalance = 0", Expect: ">= 1"},
			{Query: "SELECT count(*) FROM pgbench_tellers", Expect: "= 0"},
			{Query: "SELECT body FROM notes WHERE id = 2", Expect: `= 'it''s "quoted" \ and back\slashed'`},
			{Query: "SELECT 1, 2", Expect: "= 1"},
			{Query: "SELECT id FROM notes", Expect: "= 1"},
			{Query: "SELECT nosuch FROM notes", Expect: "= 1"},
			{Query: "DELETE FROM notes RETURNING 1", Expect: "= 1"},
			{Query: "SELECT count(*) FROM notes", Expect: "= 4"},
			{Query: "SELECT 1", Expect: "about 1"},
		},
	}
	resp, _, err := restoreOnce(t, New(), sourceFor(f.dumps["custom"]), checks)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if ps := problems(resp.Problems, plugins.ProblemError); len(ps) != 1 || !strings.Contains(ps[0].Message, "about 1") {
		t.Errorf("error problems %+v, want one for the bad expect", ps)
	}
	if ps := problems(resp.Problems, plugins.ProblemFail); len(ps) > 0 {
		t.Errorf("fail problems %+v, want none", ps)
	}
	tables := checkNamed(t, resp.Checks, "tables")
	if len(tables) != 1 || tables[0].OK || !strings.Contains(tables[0].Detail, "invoices, other.notes") ||
		strings.Contains(tables[0].Detail, "pgbench_accounts") {
		t.Errorf("tables check %+v, want a failure naming invoices and other.notes only", tables)
	}
	minRows := checkNamed(t, resp.Checks, "min_rows")
	if len(minRows) != 1 || minRows[0].OK || !strings.Contains(minRows[0].Detail, "pgbench_branches: 1 rows, at least 1000 expected") ||
		strings.Contains(minRows[0].Detail, "pgbench_accounts") {
		t.Errorf("min_rows check %+v, want a failure for pgbench_branches only", minRows)
	}
	want := []struct {
		ok     bool
		detail string
	}{
		{true, "SELECT count(*) FROM pgbench_accounts WHERE abalance = 0: returned 100000, expected >= 1"},
		{false, "SELECT count(*) FROM pgbench_tellers: the query returned 10, expected = 0"},
		{true, `SELECT body FROM notes WHERE id = 2: returned 'it''s "quoted" \ and back\slashed'`},
		{false, "SELECT 1, 2: returned 2 columns, expected one row of one column"},
		{false, "SELECT id FROM notes: returned 4 rows, expected one row of one column"},
		{false, `SELECT nosuch FROM notes: column "nosuch" does not exist`},
		{false, "DELETE FROM notes RETURNING 1: cannot execute DELETE in a read-only transaction"},
		{true, "SELECT count(*) FROM notes: returned 4, expected = 4"},
	}
	got := checkNamed(t, resp.Checks, "sql")
	if len(got) != len(want) {
		t.Fatalf("sql checks %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].OK != w.ok || !strings.HasPrefix(got[i].Detail, w.detail) {
			t.Errorf("sql check %d: %v %q, want %v %q", i, got[i].OK, got[i].Detail, w.ok, w.detail)
		}
	}
}

func TestDatabaseChecksPass(t *testing.T) {
	f := getFixture(t)
	const maxAid = "SELECT max(aid) FROM pgbench_accounts"
	checks := &plugins.DatabaseChecks{
		Tables:  []string{"pgbench_accounts", "public.nokey"},
		MinRows: map[string]int64{"pgbench_accounts": 1000},
		// Unnamed in the config (named after its query there), then named.
		SQL: []plugins.SQLCheck{{Name: dbcheck.QueryName(maxAid), Query: maxAid, Expect: "= 100000"},
			{Name: "max aid", Query: maxAid, Expect: "= 100000"}},
	}
	resp, _, err := restoreOnce(t, New(), sourceFor(f.dumps["directory"]), checks)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if len(resp.Problems) > 0 || len(resp.Checks) != 4 {
		t.Fatalf("problems %+v, checks %+v; want 4 checks and no problems", resp.Problems, resp.Checks)
	}
	for _, c := range resp.Checks {
		if !c.OK {
			t.Errorf("check %s: %s", c.Name, c.Detail)
		}
	}
	// The query is shown once: in the name, or in the detail.
	if got, want := resp.Checks[2].Detail, "returned 100000, expected = 100000"; got != want {
		t.Errorf("detail of %q: %q, want %q", resp.Checks[2].Name, got, want)
	}
	if got, want := resp.Checks[3].Detail, maxAid+": returned 100000, expected = 100000"; got != want {
		t.Errorf("detail of %q: %q, want %q", resp.Checks[3].Name, got, want)
	}
}

// TestDumpMissingTable: a dump without a table the drill expects fails
// the tables check.
func TestDumpMissingTable(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "small.sql")
	sql := "CREATE TABLE public.customers (id int PRIMARY KEY);\nCOPY public.customers (id) FROM stdin;\n1\n2\n\\.\n"
	if err := os.WriteFile(dump, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, _, err := restoreOnce(t, New(), sourceFor(dump), &plugins.DatabaseChecks{Tables: []string{"customers", "invoices"}})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	c := checkNamed(t, resp.Checks, "tables")
	if len(c) != 1 || c[0].OK || !strings.Contains(c[0].Detail, "invoices") {
		t.Fatalf("tables check %+v, want invoices missing", c)
	}
	if len(resp.Tables) != 1 || resp.Tables[0].Rows != 2 || resp.Details["format"] != "plain" {
		t.Errorf("tables %+v, details %v", resp.Tables, resp.Details)
	}
}

func TestUnreachableServer(t *testing.T) {
	f := getFixture(t)
	src := plugins.Source{"dump": f.dumps["custom"], "server": "postgres://drill@127.0.0.1:1/postgres"}
	_, rec, err := restoreOnce(t, New(), src, nil)
	if err == nil {
		t.Fatal("Restore on an unreachable server returned no error")
	}
	if !strings.Contains(err.Error(), "postgres://drill@127.0.0.1:1/postgres") {
		t.Errorf("error %q does not name the server", err)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("announced scratch %v", rec.Events().Scratch)
	}
}

func TestPasswordFile(t *testing.T) {
	f := getFixture(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret:with\\colon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := sourceFor(f.dumps["plain"])
	src["password_file"] = pw
	// Trust authentication ignores the password: this proves the
	// pgpass route works end to end and leaves no file behind.
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "drill-pgpass-*"))
	resp, _, err := restoreOnce(t, New(), src, nil)
	if err != nil || len(resp.Problems) > 0 {
		t.Fatalf("Restore: %v %+v", err, resp)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "drill-pgpass-*"))
	if len(after) > len(before) {
		t.Errorf("pgpass files left: %v", after)
	}
}

func TestMissingTool(t *testing.T) {
	f := getFixture(t)
	src := sourceFor(f.dumps["custom"])
	src["pg_restore_binary"] = "/nonexistent/pg_restore"
	_, rec, err := restoreOnce(t, New(), src, nil)
	want := "pg_restore not found: install the PostgreSQL client (postgresql-client) or set pg_restore_binary"
	if err == nil || err.Error() != want {
		t.Fatalf("Restore: %v, want %q", err, want)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("announced scratch %v", rec.Events().Scratch)
	}
}

func TestCancelled(t *testing.T) {
	f := getFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := New()
	_, err := b.Restore(ctx, &plugins.RestoreRequest{Source: sourceFor(f.dumps["custom"]), PointID: f.dumps["custom"],
		Target: t.TempDir(), DrillName: drillName(t)}, &recorder{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Restore with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := b.Cleanup(ctx, &plugins.CleanupRequest{}); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
}

// TestScratchRefused: a host that refuses the scratch database gets no
// database.
func TestScratchRefused(t *testing.T) {
	f := getFixture(t)
	b := New()
	_, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: sourceFor(f.dumps["custom"]), PointID: f.dumps["custom"],
		Target: t.TempDir(), DrillName: drillName(t)}, &recorder{RefuseScratch: true})
	if err == nil || !strings.Contains(err.Error(), "announce scratch database") {
		t.Errorf("Restore: %v, want the refusal", err)
	}
	if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{}); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
}

func TestGRPC(t *testing.T) {
	f := getFixture(t)
	b := plugintest.GRPCBackend(t, New())
	d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil || d.Name != Name || d.Kind != plugins.KindDatabase || d.PointNoun != "dump" || d.StoreNoun != "dump folder" {
		t.Fatalf("Describe: %+v, %v", d, err)
	}
	resp, _, err := restoreOnce(t, b, sourceFor(f.dumps["tar"]), &plugins.DatabaseChecks{Tables: []string{"notes"}})
	if err != nil {
		t.Fatalf("Restore over gRPC: %v", err)
	}
	if !slices.Equal(resp.Tables, f.tables) || len(resp.Checks) != 1 || !resp.Checks[0].OK {
		t.Errorf("Restore over gRPC: tables %+v checks %+v problems %+v", resp.Tables, resp.Checks, resp.Problems)
	}
}

func TestListRestorePoints(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"a.dump", "b.dump", "c.dump"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("PGDMP"), 0o644); err != nil {
			t.Fatal(err)
		}
		ts := now.Add(time.Duration(-[]int{2, 0, 1}[i]) * time.Hour)
		if err := os.Chtimes(p, ts, ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "b.dump.sha256"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d.dump"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-3 * time.Hour)
	_ = os.Chtimes(filepath.Join(dir, "d.dump"), old, old)
	b := New()
	resp, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: sourceFor(filepath.Join(dir, "*.dump*"))})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Points {
		got = append(got, filepath.Base(p.ID))
	}
	if want := []string{"b.dump", "c.dump", "a.dump", "d.dump"}; !slices.Equal(got, want) {
		t.Errorf("points %v, want %v", got, want)
	}
	if resp.Points[0].Description != "dump b.dump" || resp.Points[0].Size != 5 {
		t.Errorf("point %+v", resp.Points[0])
	}
	resp, err = b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: sourceFor(filepath.Join(dir, "none-*"))})
	if err != nil || len(resp.Points) != 0 {
		t.Errorf("empty glob: %+v, %v", resp, err)
	}
}

// Cleanup drops the scratch databases the host names (left by a crashed
// drill), and only names of the scratch shape.
func TestCleanupNamedScratch(t *testing.T) {
	conn := adminConn(t)
	left := scratchdb.Name(drillName(t), 63)
	other := "sweep_keep_" + randHex(4)
	for _, n := range []string{left, other} {
		if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{other}.Sanitize())
	}()
	if _, err := New().Cleanup(t.Context(), &plugins.CleanupRequest{Source: sourceFor("/nonexistent/*.dump"), Scratch: []string{left, other}}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname IN ($1, $2)", left, other).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d of the two databases left, want only %s", n, other)
	}
	// The role of the scratch name goes with its database; a role of
	// another shape is never touched.
	for _, n := range []string{left, other} {
		if _, err := conn.Exec(context.Background(), "CREATE ROLE "+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{other}.Sanitize())
	}()
	if _, err := New().Cleanup(t.Context(), &plugins.CleanupRequest{Source: sourceFor("/nonexistent/*.dump"), Scratch: []string{left, other}}); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)", left, other).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d of the two roles left (%v), want only %s", n, err, other)
	}
}

func TestConformance(t *testing.T) {
	f := getFixture(t)
	damaged := copyDump(t, f.dumps["custom"], "damaged.dump")
	fi, err := os.Stat(damaged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(damaged, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	plugintest.Suite{
		Launch:    func(t *testing.T) plugins.Backend { return plugintest.GRPCBackend(t, New()) },
		Good:      sourceFor(f.dumps["custom"]),
		Empty:     sourceFor(filepath.Join(t.TempDir(), "none-*.dump")),
		Damaged:   sourceFor(damaged),
		WantFiles: int64(len(f.tables)),
	}.Run(t)
}

// A plain dump whose objects belong to a role the drill's server does not
// have restores all the same: owner and privilege statements are left out,
// as pg_restore --no-owner --no-privileges does for archives.
func TestPlainDumpForeignOwner(t *testing.T) {
	conn := adminConn(t)
	ctx := context.Background()
	role, db := "pgtest_owner_"+randHex(4), "pgtest_src_"+randHex(4)
	for _, q := range []string{
		"CREATE ROLE " + role,
		"CREATE DATABASE " + db,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { _, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db) }()
	defer func() { _, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+role) }()
	psql := exec.Command("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c",
		"CREATE TABLE owned (id int PRIMARY KEY, v text); INSERT INTO owned VALUES (1, 'a'), (2, 'b'); ALTER TABLE owned OWNER TO "+role+"; GRANT SELECT ON owned TO PUBLIC;")
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	dump := filepath.Join(t.TempDir(), "owned.sql")
	if out, err := exec.Command("pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-f", dump, db).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	for _, q := range []string{"DROP DATABASE " + db, "DROP ROLE " + role} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	drill := drillName(t)
	b := New()
	defer func() { _, _ = b.Cleanup(ctx, &plugins.CleanupRequest{Source: sourceFor(dump), DrillName: drill}) }()
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: sourceFor(dump), PointID: dump, Target: t.TempDir(), DrillName: drill}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Problems) > 0 || len(resp.Tables) != 1 || resp.Tables[0].Rows != 2 {
		t.Fatalf("problems %+v, tables %+v; want public.owned with 2 rows", resp.Problems, resp.Tables)
	}
	if got := resp.Details["plain_dump_skipped"]; !strings.Contains(got, "1 OWNER TO and 1 GRANT/REVOKE") {
		t.Errorf("details plain_dump_skipped = %q", got)
	}
}

// fingerprint_limit: tables larger than it are counted, not fingerprinted.
func TestFingerprintLimit(t *testing.T) {
	f := getFixture(t)
	src := sourceFor(f.dumps["custom"])
	src["fingerprint_limit"] = int64(1)
	resp, _, err := restoreOnce(t, New(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tb := range resp.Tables {
		// An empty table takes no pages: it is within any limit.
		if tb.Rows > 0 && tb.Fingerprint != "" || tb.Rows != f.tables[i].Rows {
			t.Errorf("table %+v: want counted (%d rows) and not fingerprinted", tb, f.tables[i].Rows)
		}
	}
	if _, probs := parseSource(plugins.Source{"dump": "/x/*.dump", "server": testServer, "fingerprint_limit": int64(-1)}); len(probs) != 1 || probs[0].Key != "fingerprint_limit" {
		t.Errorf("a negative fingerprint_limit: %+v", probs)
	}
}

// TestMaxScratchBytes: a restore that makes the scratch database grow
// past max_scratch_bytes is stopped with an error, whatever the format,
// and the database is dropped.
func TestMaxScratchBytes(t *testing.T) {
	f := getFixture(t)
	for _, dump := range []string{"custom", "plain"} {
		t.Run(dump, func(t *testing.T) {
			t.Parallel()
			resp, _, err := restoreWith(t, New(), sourceFor(f.dumps[dump]), nil, 2<<20)
			if err != nil {
				t.Fatal(err)
			}
			errs := problems(resp.Problems, plugins.ProblemError)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, "past max_scratch_bytes (2097152 bytes)") ||
				!strings.Contains(errs[0].Message, "127.0.0.1:5432") {
				t.Fatalf("problems %+v, want one error naming the limit and the server", resp.Problems)
			}
			if len(resp.Tables) > 0 {
				t.Errorf("tables %+v fingerprinted after the restore was stopped", resp.Tables)
			}
		})
	}
}
