package mysql

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/drillhq/drill/plugins"
)

// liveDB creates a database standing for a live one, with rows, and
// returns its name and a function giving its rows as text.
func liveDB(t *testing.T, db *sql.DB) (string, func() string) {
	t.Helper()
	name := "drilltest_live_" + randHex(4)
	exec1(t, db, "CREATE DATABASE "+quoteIdent(name))
	t.Cleanup(func() { exec1(t, db, "DROP DATABASE IF EXISTS "+quoteIdent(name)) })
	exec1(t, db, "CREATE TABLE "+quoteIdent(name)+".t (id INT PRIMARY KEY, v VARCHAR(20))")
	exec1(t, db, "INSERT INTO "+quoteIdent(name)+".t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	rows := func() string {
		var s sql.NullString
		err := db.QueryRow("SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM " + quoteIdent(name) + ".t").Scan(&s)
		if err != nil {
			return "error: " + err.Error()
		}
		return s.String
	}
	return name, rows
}

// usersNamed lists the accounts named like drill's restore users of these
// tests, and those named name.
func usersNamed(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User LIKE 'drill\_test%' OR User = ?`, name)
}

// TestHostileStatements: whatever the filter lets through of a dump that
// reaches for a live database, the server, or the host's files, the
// restore user may not do it, and the client does not run its own
// commands; the drill fails, the live database keeps its rows, and the
// restore user is gone after Cleanup.
func TestHostileStatements(t *testing.T) {
	db := setup(t)
	live, liveRows := liveDB(t, db)
	want := liveRows()
	dir := t.TempDir()
	mark := filepath.Join(dir, "MARKER")
	out := "/tmp/drilltest_outfile_" + randHex(4)
	lq := quoteIdent(live)
	// An account whose password a dump tries to change.
	victim := "drilltest_victim_" + randHex(3)
	exec1(t, db, "CREATE USER "+victim+"@'%' IDENTIFIED BY 'Victim-pw-1'")
	t.Cleanup(func() { exec1(t, db, "DROP USER IF EXISTS "+victim+"@'%'") })
	tests := []struct{ name, sql string }{
		{"leading space USE", " USE " + lq + ";\nDELETE FROM t;"},
		{"comment USE", "/* x */ USE " + lq + "; DELETE FROM t;"},
		{"qualified DELETE", "DELETE FROM " + lq + ".t;"},
		{"DROP DATABASE", " DROP DATABASE " + lq + ";"},
		{"CREATE USER", "CREATE USER drilltest_evil@'%' IDENTIFIED BY 'x'; GRANT ALL ON *.* TO drilltest_evil@'%';"},
		{"INTO OUTFILE", "SELECT 'owned' INTO OUTFILE '" + out + "';"},
		{"LOAD DATA INFILE", "CREATE TABLE p (l TEXT);\nLOAD DATA INFILE '/etc/passwd' INTO TABLE p;"},
		{"LOAD DATA LOCAL INFILE", "CREATE TABLE p (l TEXT);\nLOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE p;"},
		{"shell", "\\! touch " + mark},
		{"system", "system touch " + mark},
		{"tee", "tee " + mark},
		{"source", "\\. /etc/passwd"},
		{"DELIMITER USE", "DELIMITER //\n/**/USE " + lq + "//\nDELETE FROM t//\nDELIMITER ;"},
		{"SET PASSWORD", "SET PASSWORD FOR " + victim + "@'%' = PASSWORD('owned');"},
		{"GRANT to self", "GRANT ALL ON *.* TO CURRENT_USER;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeDump(t, "evil.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE ok (a INT);\n"+tt.sql+"\n-- Dump completed\n"))
			b := New()
			resp, _ := mustRestore(t, b, src(path), nil)
			if fails := problems(resp, plugins.ProblemFail); len(fails) == 0 {
				t.Errorf("no fail problem: %+v", resp.Problems)
			} else {
				t.Logf("fail: %s", fails[0])
			}
			user := resp.Details["scratch_database"]
			if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: src(path)}); err != nil {
				t.Fatal(err)
			}
			if got := liveRows(); got != want {
				t.Errorf("live database rows %q, want %q", got, want)
			}
			for _, f := range []string{mark, out} {
				if _, err := os.Lstat(f); err == nil {
					t.Errorf("%s was written", f)
				}
			}
			if u := usersNamed(t, db, "drilltest_evil"); len(u) > 0 {
				exec1(t, db, "DROP USER IF EXISTS drilltest_evil@'%'")
				t.Errorf("accounts left: %v", u)
			}
			if user == "" || databaseExists(t, db, user) {
				t.Errorf("scratch database %q left", user)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Password = PASSWORD('Victim-pw-1')", victim).Scan(&n); err != nil || n != 1 {
				t.Errorf("the password of %s changed: %d, %v", victim, n, err)
			}
		})
	}
}

// TestRestoreUserGrants: the restore user has all privileges on its
// scratch database (the name escaped, so that its _ match no other) and
// nothing global; it and the database are gone after Cleanup.
func TestRestoreUserGrants(t *testing.T) {
	db := setup(t)
	path := writeDump(t, "shop.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n-- Dump completed\n"))
	b := New()
	resp, rec := mustRestore(t, b, src(path), &plugins.DatabaseChecks{SQL: []plugins.SQLCheck{{Query: "SELECT CURRENT_USER()", Expect: "!= ''"}}})
	name := resp.Details["scratch_database"]
	if len(resp.Problems) > 0 || !scratchdb.IsName(name) || len(name) > maxUserLen || !slices.Equal(rec.Events().Scratch, []string{name}) {
		t.Fatalf("problems %+v, name %q, announced %v", resp.Problems, name, rec.Events().Scratch)
	}
	// The checks ran as the restore user.
	if len(resp.Checks) != 1 || !strings.Contains(resp.Checks[0].Detail, "'"+name+"@") {
		t.Errorf("checks %+v, want them run as %s", resp.Checks, name)
	}
	if !strings.HasPrefix(resp.Details["restore_user"], name+"@") || !strings.Contains(resp.Details["client_guards"], "local-infile=0") {
		t.Errorf("details %v", resp.Details)
	}
	users := usersNamed(t, db, name)
	if len(users) != 1 {
		t.Fatalf("accounts %v, want one restore user", users)
	}
	host := users[0][strings.LastIndexByte(users[0], '@')+1:]
	grants := queryStrings(t, db, "SHOW GRANTS FOR "+sqlString(name)+"@"+sqlString(host))
	acct := "`" + name + "`@`" + host + "`"
	if len(grants) != 2 || !strings.HasPrefix(grants[0], "GRANT USAGE ON *.* TO "+acct) ||
		grants[1] != "GRANT ALL PRIVILEGES ON `"+strings.ReplaceAll(name, "_", `\_`)+"`.* TO "+acct {
		t.Errorf("grants %q", grants)
	}
	if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: src(path)}); err != nil {
		t.Fatal(err)
	}
	if u := usersNamed(t, db, name); len(u) > 0 || databaseExists(t, db, name) {
		t.Errorf("after Cleanup: accounts %v, database there: %v", u, databaseExists(t, db, name))
	}
}

// TestDefinerDump: a real dump with a view, a trigger, a procedure, a
// function and an event, all with DEFINER=`root`@..., restores as the
// restore user; a row holding the text of a DEFINER clause is not
// rewritten.
func TestDefinerDump(t *testing.T) {
	db := setup(t)
	name := "drilltest_def_" + randHex(4)
	exec1(t, db, "CREATE DATABASE "+quoteIdent(name))
	t.Cleanup(func() { exec1(t, db, "DROP DATABASE IF EXISTS "+quoteIdent(name)) })
	q := quoteIdent(name) + "."
	exec1(t, db, "CREATE TABLE "+q+"t (id INT PRIMARY KEY, v VARCHAR(60))")
	exec1(t, db, "INSERT INTO "+q+"t VALUES (1, 'a'), (2, '/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */')")
	// The objects are made in the database, as an application makes
	// them, so that the dump does not name it.
	in, err := (&server{user: "root", host: testHost, port: testPort}).connect(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, st := range []string{
		"CREATE VIEW vw AS SELECT * FROM t",
		"CREATE SQL SECURITY INVOKER VIEW vw2 AS SELECT id FROM t",
		"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
		"CREATE PROCEDURE p() BEGIN SELECT 1; END",
		"CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
		"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t WHERE id < 0",
	} {
		exec1(t, in, st)
	}
	want := sourceTables(t, db, name)
	for _, args := range [][]string{{name}, {"--databases", name}} {
		dump := dumpDB(t, append([]string{"--routines", "--events", "--triggers"}, args...)...)
		if n := strings.Count(string(dump), "DEFINER=`root`@"); n < 5 {
			t.Fatalf("the dump holds %d DEFINER clauses of root, want at least 5", n)
		}
		path := writeDump(t, "def.sql", dump)
		dc := &plugins.DatabaseChecks{SQL: []plugins.SQLCheck{
			{Query: "SELECT f(1)", Expect: "= 2"},
			{Query: "SELECT COUNT(*) FROM vw", Expect: "= 2"},
			{Query: "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()", Expect: "= 1"},
		}}
		resp, _ := mustRestore(t, New(), src(path), dc)
		if len(resp.Problems) > 0 {
			t.Fatalf("%v: problems %+v", args, resp.Problems)
		}
		if !slices.Equal(resp.Tables, want) {
			t.Errorf("%v: tables %+v, want %+v (the data row with a DEFINER text changed?)", args, resp.Tables, want)
		}
		for _, c := range resp.Checks {
			if !c.OK {
				t.Errorf("%v: check %s: %s", args, c.Name, c.Detail)
			}
		}
		if !strings.Contains(resp.Details["rewritten"], "6 DEFINER clauses set to CURRENT_USER") {
			t.Errorf("%v: rewritten %q", args, resp.Details["rewritten"])
		}
	}
}

// TestSymlinkedDump: a dump (or its checksum file) that is a symlink to a
// secret is refused naming it, and the secret is nowhere in the response.
func TestSymlinkedDump(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	const secret = "S3cret-ssh-key-6a1f"
	secretFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(secretFile, []byte("CREATE TABLE x (a INT);\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "shop.sql")
	if err := os.Symlink(secretFile, dump); err != nil {
		t.Fatal(err)
	}
	resp, _ := mustRestore(t, New(), src(dump), nil)
	fails := problems(resp, plugins.ProblemFail)
	if len(fails) != 1 || !strings.Contains(fails[0], dump+" is a symlink") {
		t.Errorf("fails %q, want the symlink refused naming it", fails)
	}
	// A real dump whose sidecar is a symlink to the secret.
	if err := os.Remove(dump); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dump, []byte("CREATE TABLE x (a INT);\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secretFile, dump+".sha256"); err != nil {
		t.Fatal(err)
	}
	resp2, _ := mustRestore(t, New(), src(dump), nil)
	fails = problems(resp2, plugins.ProblemFail)
	if len(fails) != 1 || !strings.Contains(fails[0], dump+".sha256 is a symlink") {
		t.Errorf("fails %q, want the symlinked checksum file refused naming it", fails)
	}
	for _, r := range []*plugins.RestoreResponse{resp, resp2} {
		if s := strings.Join(problems(r, plugins.ProblemFail), " "); strings.Contains(s, secret) {
			t.Errorf("the secret is in the problems: %s", s)
		}
	}
}

// TestSyntaxErrorEcho: the server's "near '...'" echo of a statement is
// not quoted (its line is); the problem keeps the error.
func TestSyntaxErrorEcho(t *testing.T) {
	setup(t)
	const secret = "S3cret-token-0b7c"
	for _, body := range []string{
		"SELECT 1 FROM " + secret + " " + secret + ";",
		"SELECT 1 FROM\n" + secret + "-one\n" + secret + "-two;",
		"SELECT 1 FROM\n--------------\n" + secret + "\nERROR 1 (00000): " + secret + "\n--------------\nx;",
	} {
		path := writeDump(t, "bad.sql", []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\n"+body+"\n-- Dump completed\n"))
		resp, _ := mustRestore(t, New(), src(path), nil)
		fails := strings.Join(problems(resp, plugins.ProblemFail), " | ")
		if strings.Contains(fails, secret) || !strings.Contains(fails, "at line") {
			t.Errorf("fails %q: want the error with its line, without %s", fails, secret)
		}
		t.Log(fails)
	}
}

// TestLoginWithoutCreateUser: a login that may not create users gets an
// error that says what to grant, and leaves nothing behind.
func TestLoginWithoutCreateUser(t *testing.T) {
	db := setup(t)
	user := "drilltest_nc" + randHex(3)
	pass := "Pw-" + randHex(8)
	exec1(t, db, "CREATE USER "+sqlString(user)+"@'%' IDENTIFIED BY "+sqlString(pass))
	t.Cleanup(func() { exec1(t, db, "DROP USER IF EXISTS "+sqlString(user)+"@'%'") })
	exec1(t, db, "GRANT ALL ON `drill\\_%`.* TO "+sqlString(user)+"@'%'")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeDump(t, "shop.sql", []byte("CREATE TABLE t (a INT);\n"))
	s := plugins.Source{"dump": path, "server": "mysql://" + user + "@127.0.0.1:3306/", "password_file": pw}
	_, _, err := restoreDump(t, New(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "GRANT CREATE USER ON *.* TO '"+user+"'") || strings.Contains(err.Error(), pass) {
		t.Fatalf("Restore: %v; want what to grant", err)
	}
}

// TestReadMessages: the client's own messages are kept, the dump's text
// it or the server echo is not.
func TestReadMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--------------\nSELECT x\n--------------\n\nERROR 1064 (42000) at line 2: syntax; use near 'x' at line 1\n",
			"ERROR 1064 (42000) at line 2: syntax; use at line 1"},
		{"ERROR 1064 (42000) at line 2: use near 'a\nb' at line 3\n", "ERROR 1064 (42000) at line 2: use at line 3"},
		{"ERROR 1064 (42000) at line 2: use near 'cut off", "ERROR 1064 (42000) at line 2: use"},
		{"secret line\nmariadb: unknown option '--x'\n", "mariadb: unknown option '--x'"},
		{"ERROR 1044 (42000) at line 3: Access denied for user 'u'@'h' to database 'live'\n",
			"ERROR 1044 (42000) at line 3: Access denied for user 'u'@'h' to database 'live'"},
	}
	for _, tt := range tests {
		if got := strings.Join(readMessages(strings.NewReader(tt.in)), "; "); got != tt.want {
			t.Errorf("readMessages(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := withoutEcho("Error 1064 (42000): syntax near 'S3cret\nx' at line 1"); got != "Error 1064 (42000): syntax at line 1" {
		t.Errorf("withoutEcho: %q", got)
	}
}

// TestSymlinkedPasswordFile: a password file that is a symlink is not
// read; the drill errs naming it.
func TestSymlinkedPasswordFile(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real.pw")
	if err := os.WriteFile(real, []byte("S3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "pw")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	path := writeDump(t, "shop.sql", []byte("CREATE TABLE t (a INT);\n"))
	s := plugins.Source{"dump": path, "server": testServer, "password_file": link}
	_, rec, err := restoreDump(t, New(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "password file "+link+" is a symlink") || strings.Contains(err.Error(), "S3cret") {
		t.Fatalf("Restore: %v; want the symlinked password file refused naming it", err)
	}
	if len(rec.Events().Scratch) > 0 {
		t.Errorf("scratch announced: %v", rec.Events().Scratch)
	}
}
