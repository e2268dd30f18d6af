package mysql

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

func src(dump string) plugins.Source { return plugins.Source{"dump": dump, "server": testServer} }

// TestRestoreFingerprints restores the same database dumped plainly,
// gzip'd, and with --databases (CREATE DATABASE, DROP DATABASE and USE),
// and gets the source's fingerprints each time.
func TestRestoreFingerprints(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	want := sourceTables(t, db, name)
	if len(want) != 3 || want[0].Name != "items" || want[0].Rows != 3000 || want[0].Fingerprint == "" {
		t.Fatalf("source tables %+v, want items, notes, orders with 3000 rows each", want)
	}
	plain := dumpDB(t, name)
	whole := dumpDB(t, "--databases", "--add-drop-database", name)

	tests := []struct {
		name, file    string
		content       []byte
		dropSource    bool
		wantRewritten string
	}{
		{"plain", "shop.sql", plain, false, ""},
		{"gzip", "shop.sql.gz", gzipped(t, plain), false, ""},
		{"gzip without .gz", "shop.sql", gzipped(t, plain), false, ""},
		{"zstd", "shop.sql.zst", zstded(t, plain), false, ""},
		{"databases", "shop.sql", whole, true, "removed DROP DATABASE/CREATE DATABASE/USE for `" + name + "`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeDump(t, tt.file, tt.content)
			if tt.dropSource {
				// The dump must restore into the scratch database only: the
				// source database, dropped, must not come back.
				exec1(t, db, "DROP DATABASE "+quoteIdent(name))
			}
			b := New()
			resp, rec := mustRestore(t, b, src(path), nil)
			if len(resp.Problems) > 0 {
				t.Fatalf("problems %+v, want none", resp.Problems)
			}
			if !slices.Equal(resp.Tables, want) {
				t.Errorf("tables\n got %+v\nwant %+v", resp.Tables, want)
			}
			if resp.Files != 3 || resp.Bytes != int64(len(tt.content)) {
				t.Errorf("Files %d, Bytes %d; want 3, %d", resp.Files, resp.Bytes, len(tt.content))
			}
			if resp.Point.ID != path || resp.Point.Time.IsZero() {
				t.Errorf("Point %+v, want ID %s and a time", resp.Point, path)
			}
			scratch := resp.Details["scratch_database"]
			if !scratchdb.IsName(scratch) || !slices.Equal(rec.Events().Scratch, []string{scratch}) {
				t.Errorf("scratch_database %q, announced %v", scratch, rec.Events().Scratch)
			}
			if !databaseExists(t, db, scratch) {
				t.Errorf("scratch database %s does not exist before Cleanup", scratch)
			}
			if !strings.HasPrefix(resp.Details["dump_tool"], "MariaDB dump") && !strings.HasPrefix(resp.Details["dump_tool"], "MySQL dump") {
				t.Errorf("dump_tool %q", resp.Details["dump_tool"])
			}
			if resp.Details["server_version"] == "" {
				t.Error("no server_version")
			}
			if got := resp.Details["rewritten"]; got != tt.wantRewritten {
				t.Errorf("rewritten %q, want %q", got, tt.wantRewritten)
			}
			if tt.dropSource && databaseExists(t, db, name) {
				t.Errorf("restoring the --databases dump recreated the source database %s", name)
			}
			if len(rec.Events().Progress) == 0 {
				t.Error("no progress reported")
			}
			// Cleanup drops the scratch database, and again is a no-op.
			for range 2 {
				if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: src(path)}); err != nil {
					t.Fatalf("Cleanup: %v", err)
				}
			}
			if databaseExists(t, db, scratch) {
				t.Errorf("scratch database %s still exists after Cleanup", scratch)
			}
		})
	}
}

// TestFingerprintSensitive checks that the fingerprint tells NULL from ”,
// and sees a changed value, also in a table without a key.
func TestFingerprintSensitive(t *testing.T) {
	db := setup(t)
	name := "drilltest_fp_" + randHex(4)
	exec1(t, db, "CREATE DATABASE "+quoteIdent(name))
	t.Cleanup(func() { exec1(t, db, "DROP DATABASE IF EXISTS "+quoteIdent(name)) })
	q := quoteIdent(name) + "."
	for _, tb := range []string{"a", "b", "c", "d", "e"} {
		exec1(t, db, "CREATE TABLE "+q+tb+" (x VARCHAR(10) NULL, y VARCHAR(10) NULL, z DECIMAL(5,2))")
	}
	exec1(t, db, "INSERT INTO "+q+"a VALUES (NULL, 'v', 1.25)")
	exec1(t, db, "INSERT INTO "+q+"b VALUES ('', 'v', 1.25)")
	exec1(t, db, "INSERT INTO "+q+"c VALUES ('', 'v', 1.00)")
	exec1(t, db, "INSERT INTO "+q+"d VALUES ('v#', '', 1.25)")
	exec1(t, db, "INSERT INTO "+q+"e VALUES ('v', '#', 1.25)")
	fp := map[string]bool{}
	for _, tb := range sourceTables(t, db, name) {
		if fp[tb.Fingerprint] {
			t.Errorf("table %s has the fingerprint of another table: %s", tb.Name, tb.Fingerprint)
		}
		fp[tb.Fingerprint] = true
	}
}

func TestTruncatedDump(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	full := dumpDB(t, name)
	i := strings.Index(string(full), "INSERT INTO `orders`")
	if i < 0 {
		t.Fatal("no INSERT INTO `orders` in the dump")
	}
	path := writeDump(t, "cut.sql", full[:i+200])
	resp, _ := mustRestore(t, New(), src(path), nil)
	fails := problems(resp, plugins.ProblemFail)
	if len(fails) == 0 || !strings.Contains(fails[0], "ERROR 1064") {
		t.Fatalf("fail problems %q, want the client's ERROR 1064", fails)
	}
	if !strings.Contains(strings.Join(fails, "\n"), "Dump completed") {
		t.Errorf("fail problems %q, want one saying the dump has no trailer", fails)
	}

	// Cut at a line's end, the client is happy: the missing trailer
	// still fails the drill.
	j := strings.Index(string(full), "-- Dump completed")
	path = writeDump(t, "cut2.sql", full[:j])
	resp, _ = mustRestore(t, New(), src(path), nil)
	if fails := problems(resp, plugins.ProblemFail); len(fails) != 1 || !strings.Contains(fails[0], "truncated") {
		t.Errorf("fail problems %q, want one saying the dump is truncated", fails)
	}

	// A gzip'd dump cut short: the gzip stream ends early.
	gz := gzipped(t, full)
	path = writeDump(t, "cut.sql.gz", gz[:len(gz)/2])
	resp, _ = mustRestore(t, New(), src(path), nil)
	if fails := problems(resp, plugins.ProblemFail); len(fails) == 0 || !strings.Contains(fails[0], "unexpected EOF") {
		t.Errorf("fail problems %q, want unexpected EOF", fails)
	}
}

func TestChecks(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	path := writeDump(t, "shop.sql", dumpDB(t, name))
	dc := &plugins.DatabaseChecks{
		Tables:  []string{"orders", name + ".items", "invoices"},
		MinRows: map[string]int64{"orders": 1000, "notes": 5000, "invoices": 1},
		SQL: []plugins.SQLCheck{
			{Query: "SELECT COUNT(*) FROM orders WHERE note IS NULL", Expect: ">= 1"},
			{Name: "big", Query: "SELECT MAX(amount) FROM orders", Expect: "> 5000"},
			{Name: "text", Query: "SELECT name FROM items WHERE id = 1", Expect: "= 'item 0\r\n'"},
			{Name: "two columns", Query: "SELECT 1, 2", Expect: "= 1"},
			{Name: "no rows", Query: "SELECT 1 FROM orders WHERE 1 = 0", Expect: "= 1"},
			{Name: "many rows", Query: "SELECT seq FROM orders", Expect: "= 1"},
			{Name: "bad query", Query: "SELECT nope FROM orders", Expect: "= 1"},
			{Name: "write", Query: "DELETE FROM orders", Expect: "= 0"},
			{Name: "bad expect", Query: "SELECT 1", Expect: "about 1"},
		},
	}
	resp, _ := mustRestore(t, New(), src(path), dc)
	got := map[string]plugins.Check{}
	for _, c := range resp.Checks {
		got[c.Name] = c
	}
	want := []struct {
		name   string
		ok     bool
		detail string
	}{
		{"tables", false, "missing 1 of 3 tables: invoices"},
		{"min_rows", false, "invoices: no such table, at least 1 rows expected; notes: 3000 rows, at least 5000 expected; orders: 3000 rows (at least 1000)"},
		{"sql", true, "SELECT COUNT(*) FROM orders WHERE note IS NULL: returned 300, expected >= 1"},
		{"sql big", false, "SELECT MAX(amount) FROM orders: the query returned 2999.99, expected > 5000"},
		{"sql text", true, "returned 'item 0\r\n', expected = 'item 0\r\n'"},
		{"sql two columns", false, "returned 2 columns"},
		{"sql no rows", false, "returned no rows"},
		{"sql many rows", false, "more than one row"},
		{"sql bad query", false, "Unknown column 'nope'"},
		{"sql write", false, "READ ONLY"},
	}
	for _, w := range want {
		c, ok := got[w.name]
		if !ok {
			t.Errorf("no check %q in %+v", w.name, resp.Checks)
			continue
		}
		if c.OK != w.ok || !strings.Contains(c.Detail, w.detail) {
			t.Errorf("check %q: OK %v, detail %q; want OK %v, detail with %q", w.name, c.OK, c.Detail, w.ok, w.detail)
		}
	}
	if len(resp.Checks) != len(want) {
		t.Errorf("%d checks, want %d: %+v", len(resp.Checks), len(want), resp.Checks)
	}
	errs := problems(resp, plugins.ProblemError)
	if len(errs) != 1 || !strings.Contains(errs[0], "about 1") {
		t.Errorf("error problems %q, want one for the bad expect", errs)
	}
	if fails := problems(resp, plugins.ProblemFail); len(fails) > 0 {
		t.Errorf("fail problems %q, want none", fails)
	}
	// The DELETE ran in a read-only transaction: nothing was deleted.
	for _, tb := range resp.Tables {
		if tb.Name == "orders" && tb.Rows != 3000 {
			t.Errorf("orders has %d rows", tb.Rows)
		}
	}
}

func TestChecksPass(t *testing.T) {
	const empty = "SELECT COUNT(*) FROM notes WHERE msg = ''"
	db := setup(t)
	name := sourceDB(t, db)
	path := writeDump(t, "shop.sql.gz", gzipped(t, dumpDB(t, "--databases", name)))
	dc := &plugins.DatabaseChecks{
		Tables:  []string{"orders", "notes", "items"},
		MinRows: map[string]int64{"orders": 3000},
		// Unnamed in the config (named after its query there), then named.
		SQL: []plugins.SQLCheck{{Name: dbcheck.QueryName(empty), Query: empty, Expect: "= 300"},
			{Name: "empty", Query: empty, Expect: "= 300"}},
	}
	resp, _ := mustRestore(t, New(), src(path), dc)
	if len(resp.Checks) != 4 {
		t.Fatalf("checks %+v, want 4", resp.Checks)
	}
	for _, c := range resp.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
	// The query is shown once: in the name, or in the detail.
	if got, want := resp.Checks[2].Detail, "returned 300, expected = 300"; got != want {
		t.Errorf("detail of %q: %q, want %q", resp.Checks[2].Name, got, want)
	}
	if got, want := resp.Checks[3].Detail, empty+": returned 300, expected = 300"; got != want {
		t.Errorf("detail of %q: %q, want %q", resp.Checks[3].Name, got, want)
	}
	if len(resp.Problems) > 0 {
		t.Errorf("problems %+v", resp.Problems)
	}
}

func TestSidecar(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	content := dumpDB(t, name)
	sum := fmt.Sprintf("%x", sha256.Sum256(content))
	tests := []struct {
		name, sidecar, wantFail string
	}{
		{"right", sum + "  shop.sql\n", ""},
		{"right, digest only", sum + "\n", ""},
		{"wrong", strings.Repeat("0", 64) + "  shop.sql\n", "checksum file"},
		{"malformed", "not a checksum\n", "64 hex digits"},
		{"other file", sum + "  other.sql\n", "other.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeDump(t, "shop.sql", content)
			if err := os.WriteFile(path+".sha256", []byte(tt.sidecar), 0o600); err != nil {
				t.Fatal(err)
			}
			resp, rec := mustRestore(t, New(), src(path), nil)
			fails := problems(resp, plugins.ProblemFail)
			if tt.wantFail == "" {
				if len(fails) > 0 || len(resp.Tables) != 3 {
					t.Fatalf("fails %q, %d tables; want none and 3", fails, len(resp.Tables))
				}
				return
			}
			if len(fails) != 1 || !strings.Contains(fails[0], tt.wantFail) || !strings.Contains(fails[0], path) || !strings.Contains(fails[0], path+".sha256") {
				t.Fatalf("fails %q, want one with %q naming %s and its .sha256", fails, tt.wantFail, path)
			}
			if len(rec.Events().Scratch) > 0 || len(resp.Tables) > 0 {
				t.Errorf("restored although the checksum failed: scratch %v, tables %v", rec.Events().Scratch, resp.Tables)
			}
		})
	}
}

func TestNotADump(t *testing.T) {
	setup(t)
	for _, tt := range []struct{ name, file, content string }{
		{"text", "notes.sql", "Dear diary,\ntoday I made a backup.\n"},
		{"binary", "data.sql", "\x00\x01\x02binary"},
		{"gzip'd text", "notes.sql.gz", "Dear diary,\n"},
		{"bad gzip", "bad.sql.gz", "\x1f\x8bnot really gzip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			content := []byte(tt.content)
			if tt.name == "gzip'd text" {
				content = gzipped(t, content)
			}
			path := writeDump(t, tt.file, content)
			resp, rec := mustRestore(t, New(), src(path), nil)
			fails := problems(resp, plugins.ProblemFail)
			if len(fails) != 1 || !strings.Contains(fails[0], path) {
				t.Fatalf("fails %q, want one naming %s", fails, path)
			}
			if tt.name != "bad gzip" && !strings.Contains(fails[0], "is not a MySQL/MariaDB dump") {
				t.Errorf("fail %q, want it to say it is not a dump", fails[0])
			}
			if len(rec.Events().Scratch) > 0 {
				t.Errorf("a scratch database was created for a non-dump: %v", rec.Events().Scratch)
			}
		})
	}
}

func TestSeveralDatabases(t *testing.T) {
	db := setup(t)
	a, b := sourceDB(t, db), sourceDB(t, db)
	path := writeDump(t, "two.sql", dumpDB(t, "--databases", a, b))
	exec1(t, db, "DROP DATABASE "+quoteIdent(a))
	exec1(t, db, "DROP DATABASE "+quoteIdent(b))
	resp, _ := mustRestore(t, New(), src(path), nil)
	// A good backup drill cannot restore as one: an error, not a fail.
	errs := problems(resp, plugins.ProblemError)
	want := fmt.Sprintf("dump holds several databases (`%s`, `%s`)", a, b)
	if len(errs) != 1 || !strings.Contains(errs[0], want) || !strings.Contains(errs[0], "mariadb-dump DB > DB.sql") {
		t.Fatalf("errors %q, want %q and what to do", errs, want)
	}
	if fails := problems(resp, plugins.ProblemFail); len(fails) > 0 {
		t.Errorf("fails %q, want none", fails)
	}
	if databaseExists(t, db, a) || databaseExists(t, db, b) {
		t.Error("a source database was recreated")
	}
}

// TestAllDatabases: a dump of the whole server is refused from its
// header, before anything is restored, as an error naming what to do.
func TestAllDatabases(t *testing.T) {
	db := setup(t)
	sourceDB(t, db)
	// --force: other tests drop their databases while this one dumps.
	path := writeDump(t, "all.sql.gz", gzipped(t, dumpDB(t, "--all-databases", "--no-data", "--force")))
	resp, rec := mustRestore(t, New(), src(path), nil)
	errs := problems(resp, plugins.ProblemError)
	if len(errs) != 1 || !strings.Contains(errs[0], path+" is a dump of all databases") || !strings.Contains(errs[0], "mariadb-dump DB > DB.sql") {
		t.Fatalf("errors %q, want one saying it is a dump of all databases and what to do", errs)
	}
	if fails := problems(resp, plugins.ProblemFail); len(fails) > 0 {
		t.Errorf("fails %q, want none", fails)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("a scratch database was created for a dump of all databases: %v", rec.Events().Scratch)
	}
}

func TestUnreachableServer(t *testing.T) {
	setup(t)
	path := writeDump(t, "shop.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\n-- Dump completed\n"))
	s := plugins.Source{"dump": path, "server": "mysql://root@127.0.0.1:1/"}
	resp, rec, err := restoreDump(t, New(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "mysql://root@127.0.0.1:1/") {
		t.Fatalf("Restore: %+v, %v; want an error naming the server", resp, err)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("scratch announced for an unreachable server: %v", rec.Events().Scratch)
	}
}

func TestAccessDenied(t *testing.T) {
	setup(t)
	path := writeDump(t, "shop.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\n-- Dump completed\n"))
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := plugins.Source{"dump": path, "server": "mysql://nobody_drill@127.0.0.1:3306/", "password_file": pw}
	_, _, err := restoreDump(t, New(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "mysql://nobody_drill@127.0.0.1:3306/") || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("Restore: %v; want access denied naming the server", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestPasswordFile restores as a user whose password has every character
// an option file could trip on; it reaches the client only through the
// temporary option file.
func TestPasswordFile(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	user := "drilltest_u" + randHex(3)
	pass := `p#a"s's\w;o rd=x` + "\t"
	exec1(t, db, "CREATE USER "+sqlString(user)+"@'%' IDENTIFIED BY "+sqlString(pass))
	t.Cleanup(func() { exec1(t, db, "DROP USER IF EXISTS "+sqlString(user)+"@'%'") })
	// What the login needs to make the restore user (see the package doc).
	exec1(t, db, "GRANT CREATE USER ON *.* TO "+sqlString(user)+"@'%'")
	exec1(t, db, "GRANT ALL ON `drill\\_%`.* TO "+sqlString(user)+"@'%' WITH GRANT OPTION")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeDump(t, "shop.sql", dumpDB(t, name))
	s := plugins.Source{"dump": path, "server": "mysql://" + user + "@127.0.0.1:3306/", "password_file": pw}
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "drill-mysql-*.cnf"))
	resp, _ := mustRestore(t, New(), s, nil)
	if len(resp.Problems) > 0 || !slices.Equal(resp.Tables, sourceTables(t, db, name)) {
		t.Fatalf("problems %+v, tables %+v", resp.Problems, resp.Tables)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "drill-mysql-*.cnf"))
	if len(after) > len(before) {
		t.Errorf("option files left behind: %v", after)
	}
}

func TestMaxBytes(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	path := writeDump(t, "shop.sql", dumpDB(t, name))
	b := New()
	lr, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src(path)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = b.Cleanup(context.Background(), &plugins.CleanupRequest{}) }()
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: src(path), PointID: lr.Points[0].ID, Target: t.TempDir(),
		DrillName: "test_max", MaxBytes: 10000}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := problems(resp, plugins.ProblemError); len(errs) != 1 || !strings.Contains(errs[0], "limit of 10000 bytes") {
		t.Errorf("error problems %q, want the limit", errs)
	}
}

func TestScratchRefused(t *testing.T) {
	db := setup(t)
	path := writeDump(t, "shop.sql", []byte("CREATE TABLE t (a INT);\n"))
	b := New()
	rec := &recorder{RefuseScratch: true}
	_, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: src(path), PointID: path, Target: t.TempDir(), DrillName: "test_refused"}, rec)
	if err == nil || !strings.Contains(err.Error(), "refuses") {
		t.Fatalf("Restore: %v, want the host's refusal", err)
	}
	if left := scratchLeft(t, db); len(left) > 0 {
		t.Errorf("created %v although the host refused", left)
	}
}

func TestCancelled(t *testing.T) {
	setup(t)
	path := writeDump(t, "shop.sql", []byte("CREATE TABLE t (a INT);\n"))
	b := New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	defer func() { _, _ = b.Cleanup(context.Background(), &plugins.CleanupRequest{}) }()
	start := time.Now()
	_, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src(path), PointID: path, Target: t.TempDir(), DrillName: "test_c"}, &recorder{})
	if err == nil {
		t.Fatal("Restore under a cancelled context: no error")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestRestoreOverGRPC(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	want := sourceTables(t, db, name)
	path := writeDump(t, "shop.sql.gz", gzipped(t, dumpDB(t, name)))
	b := plugintest.GRPCBackend(t, New())
	d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil || d.Name != Name || d.Kind != plugins.KindDatabase || d.PointNoun != "dump" || d.StoreNoun != "dump folder" {
		t.Fatalf("Describe: %+v, %v", d, err)
	}
	dc := &plugins.DatabaseChecks{Tables: []string{"orders"}, SQL: []plugins.SQLCheck{{Query: "SELECT COUNT(*) FROM items", Expect: "= 3000"}}}
	resp, rec := mustRestore(t, b, src(path), dc)
	if len(resp.Problems) > 0 || !slices.Equal(resp.Tables, want) {
		t.Fatalf("problems %+v, tables %+v, want %+v", resp.Problems, resp.Tables, want)
	}
	if len(resp.Checks) != 2 || !resp.Checks[0].OK || !resp.Checks[1].OK {
		t.Errorf("checks %+v", resp.Checks)
	}
	if len(rec.Events().Scratch) != 1 || rec.Events().Scratch[0] != resp.Details["scratch_database"] {
		t.Errorf("scratch %v, details %v", rec.Events().Scratch, resp.Details)
	}
}

func TestListRestorePoints(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, n := range []string{"b.sql", "a.sql.gz", "c.sql"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", i+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "c.sql.sha256"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := New()
	resp, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src(filepath.Join(dir, "*"))})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Points {
		got = append(got, fmt.Sprintf("%s %d %s", filepath.Base(p.ID), p.Size, p.Description))
	}
	want := []string{"c.sql 3 dump c.sql", "a.sql.gz 2 dump a.sql.gz", "b.sql 1 dump b.sql"}
	if !slices.Equal(got, want) {
		t.Errorf("points %q, want %q", got, want)
	}
	resp, err = b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src(filepath.Join(dir, "none-*.sql"))})
	if err != nil || len(resp.Points) != 0 {
		t.Errorf("empty glob: %+v, %v; want no points, no error", resp, err)
	}
}

func TestValidateSource(t *testing.T) {
	tests := []struct {
		name    string
		src     plugins.Source
		wantKey string
		want    string
	}{
		{"good", plugins.Source{"dump": "/b/*.sql.gz", "server": testServer, "password_file": "/etc/pw", "mysql_binary": "/usr/bin/mysql"}, "", ""},
		{"unknown key", plugins.Source{"dump": "/b/*.sql", "server": testServer, "databse": "x"}, "databse", "unknown key"},
		{"no dump", plugins.Source{"server": testServer}, "dump", "required"},
		{"no server", plugins.Source{"dump": "/b/*.sql"}, "server", "required"},
		{"password in URL", plugins.Source{"dump": "/b/*.sql", "server": "mysql://root:s3cret@db:3306/"}, "server", "password_file"},
		{"database in URL", plugins.Source{"dump": "/b/*.sql", "server": "mysql://root@db:3306/shop"}, "server", "scratch"},
		{"bad port", plugins.Source{"dump": "/b/*.sql", "server": "mysql://root@db:99999/"}, "server", "port"},
		{"no user", plugins.Source{"dump": "/b/*.sql", "server": "mysql://db:3306/"}, "server", "no user"},
		{"not mysql", plugins.Source{"dump": "/b/*.sql", "server": "postgres://root@db/"}, "server", "mysql://"},
		{"bad glob", plugins.Source{"dump": "/b/[.sql", "server": testServer}, "dump", "glob"},
		{"not a string", plugins.Source{"dump": "/b/*.sql", "server": int64(3)}, "server", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := New().ValidateSource(t.Context(), &plugins.ValidateSourceRequest{Source: tt.src})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantKey == "" {
				if len(resp.Problems) > 0 {
					t.Errorf("problems %+v, want none", resp.Problems)
				}
				return
			}
			found := false
			for _, p := range resp.Problems {
				if strings.Contains(p.Message, "s3cret") {
					t.Errorf("problem shows the password: %q", p.Message)
				}
				if p.Key == tt.wantKey && strings.Contains(p.Message, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %+v, want one for key %q with %q", resp.Problems, tt.wantKey, tt.want)
			}
		})
	}
}

func TestMissingClient(t *testing.T) {
	s := src("/nonexistent/*.sql")
	s["mysql_binary"] = "/nonexistent/mariadb"
	_, err := New().Restore(t.Context(), &plugins.RestoreRequest{Source: s, PointID: "/nonexistent/a.sql", DrillName: "test_x"}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "mysql_binary") {
		t.Errorf("Restore: %v, want an error naming mysql_binary", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = New().Restore(t.Context(), &plugins.RestoreRequest{Source: src("/nonexistent/*.sql"), PointID: "/nonexistent/a.sql", DrillName: "test_x"}, &recorder{})
	if err == nil || err.Error() != "mariadb/mysql client not found: install mariadb-client or set mysql_binary" {
		t.Errorf("Restore: %v", err)
	}
}

// Cleanup drops the scratch databases and restore users the host names
// (left by a crashed drill), and only names of the scratch shape.
func TestCleanupNamedScratch(t *testing.T) {
	db := setup(t)
	left := scratchdb.Name("test_sweep", maxUserLen)
	other := "sweep_keep_" + randHex(4)
	for _, n := range []string{left, other} {
		exec1(t, db, "CREATE DATABASE `"+n+"`")
		exec1(t, db, "CREATE USER "+sqlString(n)+"@'127.0.0.1'")
	}
	defer exec1(t, db, "DROP DATABASE IF EXISTS `"+other+"`")
	defer exec1(t, db, "DROP USER IF EXISTS "+sqlString(other)+"@'127.0.0.1'")
	if _, err := New().Cleanup(t.Context(), &plugins.CleanupRequest{Source: src("/nonexistent/*.sql"), Scratch: []string{left, other}}); err != nil {
		t.Fatal(err)
	}
	var n, users int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)", left, other).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User IN (?, ?)", left, other).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if n != 1 || users != 1 {
		t.Errorf("%d of the two databases and %d of the two users left, want only %s", n, users, other)
	}
}

func TestConformance(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	plain := dumpDB(t, name)
	good := writeDump(t, "shop.sql", plain)
	damaged := writeDump(t, "cut.sql", plain[:len(plain)/2])
	plugintest.Suite{
		Launch:    func(t *testing.T) plugins.Backend { return plugintest.GRPCBackend(t, New()) },
		Good:      src(good),
		Empty:     src(filepath.Join(t.TempDir(), "none-*.sql")),
		Damaged:   src(damaged),
		WantFiles: 3,
	}.Run(t)
}

// TestClientCommandsDoNotRun: the client's own commands in a dump (a
// shell command, use of another database) never run; the server refuses
// what reaches it as SQL, and the drill fails.
func TestClientCommandsDoNotRun(t *testing.T) {
	db := setup(t)
	mark := filepath.Join(t.TempDir(), "ran")
	for _, cmd := range []string{"\\! touch " + mark, "system touch " + mark, "\\u mysql", "connect mysql"} {
		t.Run(strings.Fields(cmd)[0], func(t *testing.T) {
			path := writeDump(t, "odd.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\n"+cmd+"\nCREATE TABLE u (a INT);\n-- Dump completed\n"))
			resp, _ := mustRestore(t, New(), src(path), nil)
			if fails := problems(resp, plugins.ProblemFail); len(fails) != 1 {
				t.Errorf("fails %q, want the server's refusal", fails)
			}
			if _, err := os.Stat(mark); err == nil {
				t.Fatal("the dump ran a shell command")
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mysql' AND table_name IN ('t', 'u')").Scan(&n); err != nil || n != 0 {
				t.Errorf("tables made in database mysql: %d, %v", n, err)
			}
		})
	}
}
