package main

import (
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// TestHostileMySQLDumps is the MySQL half of the fault suite's family
// "hostile dumps" (issue 14): dumps written by hand as an attacker would,
// each restored by the real drill binary with the real mariadb client into
// the real MariaDB, the configured login being root. Each case asserts
// that the drill does not pass (a fail, exit 1, with a reason saying why),
// that no marker file was made (by the client on this host, or by the
// server), that a live database the test made keeps its rows, that no
// secret (a key file's text the dump reaches for) is in drill's output,
// log, history or evidence store, that the scratch database and the
// restore user are gone, and that the evidence log verifies.
func TestHostileMySQLDumps(t *testing.T) {
	type env struct {
		live, marker, outfile, secretFile, secret string
	}
	cases := []struct {
		name string
		// dump is the dump's text, or "" for a dump that is a symlink to
		// the secret file.
		dump func(e env) string
		// reason is in one of the record's reasons.
		reason string
	}{
		{"leading_space_use", func(e env) string { return " USE " + e.live + ";\nDELETE FROM t;\n" },
			"Access denied for user 'drill_"},
		{"comment_use", func(e env) string { return "/* x */ USE " + e.live + "; DELETE FROM t;\n" },
			"Access denied for user 'drill_"},
		{"client_shell", func(e env) string { return "\\! touch " + e.marker + "\n" },
			`Unknown command '\!'`},
		{"client_system", func(e env) string { return "system touch " + e.marker + "\n" },
			"You have an error in your SQL syntax"},
		{"symlink_to_secret", nil, "is a symlink: drill opens backup files only as regular files"},
		{"into_outfile", func(e env) string { return "SELECT 'owned' INTO OUTFILE '" + e.outfile + "';\n" },
			"FILE privilege"},
		{"load_data_local_infile", func(e env) string {
			return "CREATE TABLE p (l TEXT);\nLOAD DATA LOCAL INFILE '" + e.secretFile + "' INTO TABLE p;\n" + exfiltrate
		}, "local infile"},
		{"load_data_infile", func(e env) string {
			return "CREATE TABLE p (l TEXT);\nLOAD DATA INFILE '" + e.secretFile + "' INTO TABLE p;\n" + exfiltrate
		}, "Access denied for user 'drill_"},
		{"create_user_grant_all", func(e env) string {
			return "CREATE USER drillfault_evil@'%' IDENTIFIED BY 'x';\nGRANT ALL ON *.* TO drillfault_evil@'%' WITH GRANT OPTION;\n"
		}, "CREATE USER privilege"},
		// A DROP DATABASE at the start of a line is the filter's: it removes
		// it as the dump's own database's (as --databases writes it).
		{"drop_live_database", func(e env) string { return "/* x */ DROP DATABASE " + e.live + ";\n" },
			"Access denied for user 'drill_"},
		{"delimiter_hides_use", func(e env) string {
			return "DELIMITER //\n/**/USE " + e.live + "//\nDELETE FROM t//\nDELIMITER ;\n"
		}, "Access denied for user 'drill_"},
		{"secret_in_syntax_error", func(e env) string { return "SELECT 1 FROM\nFROM " + e.secret + ";\n" },
			"You have an error in your SQL syntax"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			// The server (user mysql) must be able to read the secret
			// file, or LOAD DATA INFILE proves nothing.
			mustT(t, os.Chmod(filepath.Dir(dir), 0o755))
			mustT(t, os.Chmod(dir, 0o755))
			e := env{
				live:       "drillfault_live_" + randomHex(4),
				marker:     filepath.Join(dir, "MARKER"),
				outfile:    "/tmp/drillfault_outfile_" + randomHex(4),
				secretFile: filepath.Join(dir, "keys", "drill.key"),
				secret:     "S3cret-" + randomHex(8),
			}
			mustT(t, os.MkdirAll(filepath.Dir(e.secretFile), 0o755))
			mustT(t, os.WriteFile(e.secretFile, []byte("CREATE TABLE stolen (a INT);\n"+e.secret+"\n"), 0o644))
			mariadbRoot(t, "CREATE DATABASE "+e.live+"; CREATE TABLE "+e.live+".t (id INT PRIMARY KEY, v VARCHAR(20)); "+
				"INSERT INTO "+e.live+".t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
			t.Cleanup(func() {
				mariadbRoot(t, "DROP DATABASE IF EXISTS "+e.live+"; DROP USER IF EXISTS drillfault_evil@'%'")
				_ = os.Remove(e.outfile)
			})
			liveRows := func() string {
				return mariadbRoot(t, "SELECT GROUP_CONCAT(id, '=', v ORDER BY id) FROM "+e.live+".t")
			}
			wantRows := liveRows()

			dump := filepath.Join(dir, "backup", "shop.sql")
			mustT(t, os.MkdirAll(filepath.Dir(dump), 0o755))
			if c.dump == nil {
				mustT(t, os.Symlink(e.secretFile, dump))
			} else {
				// No "enable the sandbox mode" line: an attacker leaves it out.
				body := "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n" +
					"CREATE TABLE ok (a INT PRIMARY KEY);\nINSERT INTO ok VALUES (1);\n" + c.dump(e) + "-- Dump completed on 2026-12-01\n"
				mustT(t, os.WriteFile(dump, []byte(body), 0o644))
			}
			drill := fmt.Sprintf("hmy%02d", i)
			state := filepath.Join(dir, "state")
			cfg := filepath.Join(dir, "drill.yaml")
			mustT(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s
services: {s: {owner: sec@example.org}}
drills:
  %s: {service: s, backend: mysql, timeout: 2m, source: {dump: %q, server: "mysql://root@127.0.0.1:3306/"}}
`, state, drill, dump)), 0o644))

			stdout, stderr, code := drillCmd(t, cfg, "--log-level", "debug", "run", "--json", drill)
			var rec record.Record
			if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &rec); err != nil {
				t.Fatalf("drill run: exit %d, no record (%v)\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
			}
			t.Logf("verdict %s, exit %d, reasons %q, details %v", rec.Verdict, code, rec.Reasons, rec.Details)
			if rec.Verdict != "fail" || code != exitFail {
				t.Errorf("verdict %s, exit %d; want fail, exit %d", rec.Verdict, code, exitFail)
			}
			if !slices.ContainsFunc(rec.Reasons, func(r string) bool { return strings.Contains(r, c.reason) }) {
				t.Errorf("no reason says %q", c.reason)
			}
			for _, f := range []string{e.marker, e.outfile} {
				if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists after the drill (%v)", f, err)
				}
			}
			if got := liveRows(); got != wantRows {
				t.Errorf("live database %s: rows %q, want %q", e.live, got, wantRows)
			}
			if u := mariadbRoot(t, "SELECT GROUP_CONCAT(User) FROM mysql.user WHERE User = 'drillfault_evil' OR User LIKE 'drill\\_"+drill+"\\_%'"); u != "NULL" {
				t.Errorf("accounts left: %s", u)
			}
			if d := mariadbRoot(t, "SELECT GROUP_CONCAT(SCHEMA_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'drill\\_"+drill+"\\_%'"); d != "NULL" {
				t.Errorf("scratch databases left: %s", d)
			}
			// The store keeps each record base64'd in its envelope: history
			// is the records as text.
			hist, _, _ := drillCmd(t, cfg, "history", "--json")
			store, err := os.ReadFile(filepath.Join(state, "drill.db"))
			mustT(t, err)
			for what, text := range map[string]string{"stdout": stdout, "stderr and log": stderr, "history": hist, "the evidence store": string(store)} {
				if strings.Contains(text, e.secret) {
					t.Errorf("the secret is in %s", what)
				}
			}
			if out, errs, code := drillCmd(t, cfg, "evidence", "verify"); code != 0 || !strings.Contains(out, "evidence log verified") {
				t.Errorf("evidence verify: exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

// exfiltrate puts the first line of table p into an error message, the
// way an attacker gets a file's text into a drill's reasons.
const exfiltrate = "SELECT EXTRACTVALUE(1, CONCAT(0x5c, (SELECT l FROM p LIMIT 1 OFFSET 1)));\n"

// mariadbRoot runs SQL as root on the test server and returns its output
// (batch, no column names), trimmed.
func mariadbRoot(t *testing.T, sql string) string {
	t.Helper()
	cmd := exec.Command("mariadb", "--no-defaults", "-h127.0.0.1", "-uroot", "-N", "-B", "-e", sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mariadb %s: %v: %s", sql, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kill -9 of the agent in the middle of a MariaDB restore: the scratch
// database and the restore user it left are dropped when the agent starts
// again (the sweep), and the drill is recorded as interrupted.
func TestAgentKilledDuringMySQLRestore(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "slow.sql")
	mustT(t, os.WriteFile(dump, []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT);\nDO SLEEP(60);\n-- Dump completed\n"), 0o644))
	drill := "mykill" + randomHex(2)
	cfg := agentConfig(t, dir, "", fmt.Sprintf(`
  %s: {service: s, backend: mysql, source: {dump: %s, server: "mysql://root@127.0.0.1:3306/"}}
`, drill, dump))
	left := func() string {
		return mariadbRoot(t, "SELECT CONCAT((SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'drill\\_"+drill+"\\_%'), ' ', "+
			"(SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'drill\\_"+drill+"\\_%'))")
	}
	a := startAgent(t, cfg)
	go func() { _, _ = a.client().Run(context.Background(), drill, nil) }() // ends with the agent
	waitFor(t, 30*time.Second, "the restore user's session", func() bool {
		return mariadbRoot(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER LIKE 'drill\\_"+drill+"\\_%' AND INFO LIKE 'DO SLEEP%'") == "1"
	})
	a.stop(syscall.SIGKILL, 10*time.Second)
	if n := left(); n != "1 1" {
		t.Fatalf("scratch databases and restore users after kill -9: %s, want the dead drill's one of each", n)
	}
	b := startAgent(t, cfg)
	if n := left(); n != "0 0" {
		t.Errorf("scratch databases and restore users left after the restart: %s", n)
	}
	recs := history(t, cfg, drill)
	if len(recs) != 1 || recs[0].Verdict != record.VerdictInterrupted {
		t.Errorf("records %+v, want one interrupted", recs)
	}
	b.stop(syscall.SIGTERM, 30*time.Second)
}
