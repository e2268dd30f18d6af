package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/plugins"
)

// TestServerDiskFull restores a dump whose table lives in a tablespace
// that, on the scratch server, sits on a 4 MiB tmpfs: the server runs out
// of room during the restore, for real. The drill is an error (it proved
// nothing about the dump) naming the server, and the scratch database is
// dropped.
func TestServerDiskFull(t *testing.T) {
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user to own a tablespace: %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	small := serverDir(t, uid, gid)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("mounting a small tmpfs needs root: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", small).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", small, err, out)
		}
	})
	if err := os.Chown(small, uid, gid); err != nil {
		t.Fatal(err)
	}
	large := serverDir(t, uid, gid)

	ctx := context.Background()
	admin := adminConn(t)
	ts := "drilltest_full_" + randHex(4)
	src := "pgtest_full_src_" + randHex(4)
	exec1 := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Dropped last: the scratch database, whose table is in it, is
	// dropped first by restoreOnce.
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+src+" WITH (FORCE)") // if it stays, so does the tablespace: reported below
		if _, err := admin.Exec(ctx, "DROP TABLESPACE IF EXISTS "+ts); err != nil {
			t.Errorf("drop tablespace %s: %v", ts, err)
		}
	})
	exec1(fmt.Sprintf("CREATE TABLESPACE %s LOCATION '%s'", ts, large))
	exec1("CREATE DATABASE " + src)
	cfg, err := pgx.ParseConfig("postgres://postgres@127.0.0.1:5432/" + src)
	if err != nil {
		t.Fatal(err)
	}
	sconn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// About 20 MB of rows, five times the room the server will have.
	_, err = sconn.Exec(ctx, "CREATE TABLE big (id int PRIMARY KEY, pad text) TABLESPACE "+ts+
		"; INSERT INTO big SELECT i, repeat('x', 100) FROM generate_series(1, 150000) i")
	_ = sconn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "db.dump")
	cmd := exec.Command("pg_dump", "-Fc", "-f", dump, src)
	cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT=5432", "PGUSER=postgres")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	// The same tablespace name, now on the small file system.
	exec1("DROP DATABASE " + src + " WITH (FORCE)")
	exec1("DROP TABLESPACE " + ts)
	exec1(fmt.Sprintf("CREATE TABLESPACE %s LOCATION '%s'", ts, small))
	// The scratch role restores, and must be let into the tablespace.
	exec1("GRANT CREATE ON TABLESPACE " + ts + " TO PUBLIC")

	resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	errs := problems(resp.Problems, plugins.ProblemError)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "ran out of room on server postgres://postgres@127.0.0.1:5432/postgres") ||
		!strings.Contains(errs[0].Message, dump) || !strings.Contains(strings.ToLower(errs[0].Message), "no space left on device") {
		t.Fatalf("problems %+v, want one error: the server ran out of room", resp.Problems)
	}
	t.Log(errs[0].Message)
	if fails := problems(resp.Problems, plugins.ProblemFail); len(fails) > 0 {
		t.Errorf("a full server blamed on the dump: %+v", fails)
	}
}

// serverDir makes an empty folder the server's user owns, outside the
// test's own 0700 temporary folder.
func serverDir(t *testing.T, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "drill-pgts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}
