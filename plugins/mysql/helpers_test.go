package mysql

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// The tests run against the real MariaDB (or MySQL) server at
// 127.0.0.1:3306, user root without a password, and the real client and
// dump tool. They fail, never skip, when it is not there.
const (
	testHost   = "127.0.0.1"
	testPort   = 3306
	testServer = "mysql://root@127.0.0.1:3306/"
)

// testAdmin is the test's own connection to the server, for setting up
// source databases and looking at what the backend left behind.
func testAdmin(t *testing.T) *sql.DB {
	t.Helper()
	srv := &server{user: "root", host: testHost, port: testPort}
	pool, err := srv.connect(t.Context(), "")
	if err != nil {
		t.Fatalf("the mysql backend's tests need MariaDB at %s:%d (user root, no password): %v\n"+
			"start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd", testHost, testPort, err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

// queryStrings returns the first column of what query returns.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// scratchLeft lists the scratch databases of these tests (drills named
// test*) on the server; other packages' tests may be running drills on
// the same server at the same time.
func scratchLeft(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'drill\_test%'`)
}

// setup connects to the server and asserts, when the test ends, that no
// scratch database was left behind.
func setup(t *testing.T) *sql.DB {
	t.Helper()
	db := testAdmin(t)
	t.Cleanup(func() {
		if left := scratchLeft(t, db); len(left) > 0 {
			t.Errorf("scratch databases left on the server: %v", left)
		}
	})
	return db
}

func exec1(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", textsafe.Clip(q, 200), err)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sourceDB creates a source database with a unique name (dropped when the
// test ends) holding three tables: orders with a composite primary key
// and awkward text (newlines, quotes, backslashes, NULL and ”), notes
// without any key and with duplicate rows, and items with a blob.
func sourceDB(t *testing.T, db *sql.DB) string {
	t.Helper()
	name := "drilltest_src_" + randHex(4)
	exec1(t, db, "CREATE DATABASE "+quoteIdent(name))
	t.Cleanup(func() { exec1(t, db, "DROP DATABASE IF EXISTS "+quoteIdent(name)) })
	q := quoteIdent(name) + "."
	exec1(t, db, "CREATE TABLE "+q+"orders (customer INT NOT NULL, seq INT NOT NULL, note TEXT NULL, amount DECIMAL(12,2), created DATETIME, PRIMARY KEY (customer, seq))")
	exec1(t, db, "CREATE TABLE "+q+"notes (msg VARCHAR(200) NULL, n INT NULL)")
	exec1(t, db, "CREATE TABLE "+q+"items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, data BLOB, price DOUBLE)")
	notes := []any{"plain", "two\nlines", "it's \"quoted\"", `back\slash`, "", nil, "semi;colon -- not a comment", "USE `other`;", "ünïcødé ✓", "tab\there"}
	insert := func(table string, cols int, rows [][]any) {
		for len(rows) > 0 {
			n := min(len(rows), 500)
			ph := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
			var args []any
			for _, r := range rows[:n] {
				args = append(args, r...)
			}
			exec1(t, db, "INSERT INTO "+q+table+" VALUES "+strings.TrimSuffix(strings.Repeat(ph+",", n), ","), args...)
			rows = rows[n:]
		}
	}
	var orders, noteRows, items [][]any
	for i := range 3000 {
		orders = append(orders, []any{i % 97, i, notes[i%len(notes)], fmt.Sprintf("%d.%02d", i, i%100), fmt.Sprintf("2024-01-%02d 10:%02d:00", i%28+1, i%60)})
		noteRows = append(noteRows, []any{notes[i%len(notes)], []any{nil, i % 5}[i%2]})
		var blob any = []byte{byte(i), 0, '\n', '\'', byte(i >> 8)}
		if i%7 == 0 {
			blob = nil
		}
		items = append(items, []any{nil, fmt.Sprintf("item %d\r\n", i), blob, float64(i) / 3})
	}
	insert("orders", 5, orders)
	insert("notes", 2, noteRows)
	insert("items", 4, items)
	return name
}

// sourceTables fingerprints the source database the way Restore
// fingerprints the scratch one.
func sourceTables(t *testing.T, db *sql.DB, name string) []plugins.Table {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tables, err := listTables(t.Context(), conn, name)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := fingerprints(t.Context(), conn, name, tables)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// dumpDB dumps with the real mariadb-dump (or mysqldump) and returns the
// SQL.
func dumpDB(t *testing.T, args ...string) []byte {
	t.Helper()
	tool := "mariadb-dump"
	if _, err := exec.LookPath(tool); err != nil {
		tool = "mysqldump"
	}
	cmd := exec.Command(tool, append([]string{"-h", testHost, "-P", fmt.Sprint(testPort), "-u", "root"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", tool, args, err, stderr.String())
	}
	return out
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstded is b compressed by the real zstd, as mariadb-dump db | zstd.
func zstded(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command("zstd", "-q", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	return out
}

// writeDump writes a dump file into a fresh folder and returns its path.
func writeDump(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder records the events of a restore.
type recorder = plugintest.Recorder

// restoreDump restores the newest dump of src with b, and cleans up when
// the test ends (before setup's check for left scratch databases).
func restoreDump(t *testing.T, b plugins.Backend, src plugins.Source, dc *plugins.DatabaseChecks) (*plugins.RestoreResponse, *recorder, error) {
	t.Helper()
	lr, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatalf("ListRestorePoints: %v", err)
	}
	if len(lr.Points) == 0 {
		t.Fatal("ListRestorePoints: no dumps")
	}
	t.Cleanup(func() {
		if _, err := b.Cleanup(context.Background(), &plugins.CleanupRequest{Source: src, DrillName: t.Name()}); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	rec := &recorder{}
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: lr.Points[0].ID, Target: t.TempDir(),
		DrillName: t.Name(), DatabaseChecks: dc}, rec)
	return resp, rec, err
}

// mustRestore is restoreDump that expects no error.
func mustRestore(t *testing.T, b plugins.Backend, src plugins.Source, dc *plugins.DatabaseChecks) (*plugins.RestoreResponse, *recorder) {
	t.Helper()
	resp, rec, err := restoreDump(t, b, src, dc)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return resp, rec
}

func problems(resp *plugins.RestoreResponse, kind plugins.ProblemKind) []string {
	var out []string
	for _, p := range resp.Problems {
		if p.Kind == kind {
			out = append(out, p.Message)
		}
	}
	return out
}

func databaseExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
