package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Known dummy secrets in every place drill takes one (restic's
// password_file and an env NAME_FILE, PostgreSQL's and MariaDB's
// password_file) appear nowhere else: not in any process's arguments
// while the drills run (sampled from /proc every few milliseconds), not in
// any environment (but the env NAME_FILE one, which is restic's NAME by
// design), not in drill's output or log, not in the evidence.
func TestSecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	restic := filepath.Join(filepath.Dir(drillBin), "restic")
	const (
		resticPW = "canary-restic-5b1e9f"
		envPW    = "canary-env-77ac01"
		pgPW     = "canary-pg-0d93aa"
		myPW     = "canary-my-c41f26"
	)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := write("restic.pw", resticPW)
	envFile := write("env.secret", envPW)
	pgFile := write("pg.pass", pgPW)
	myFile := write("my.pass", myPW)
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "f"), []byte("hello\n"), 0o644))
	repo := filepath.Join(dir, "repo")
	for _, args := range [][]string{{"init", "-q", "-r", repo, "--password-file", pw}, {"backup", "-q", "-r", repo, "--password-file", pw, data}} {
		if out, err := exec.Command(restic, args...).CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v: %s", args, err, out)
		}
	}
	// A MariaDB user whose password is the canary, so that the client
	// really gets it.
	user := fmt.Sprintf("drill_sec_%d", time.Now().UnixNano()%1e6)
	sql := func(q string) {
		t.Helper()
		if out, err := exec.Command("mariadb", "-h127.0.0.1", "-uroot", "-e", q).CombinedOutput(); err != nil {
			t.Fatalf("mariadb %s: %v: %s", q, err, out)
		}
	}
	// It makes the per-drill restore user (see plugins/mysql).
	sql(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT CREATE USER ON *.* TO '%s'@'%%'; GRANT ALL ON `drill\\_%%`.* TO '%s'@'%%' WITH GRANT OPTION", user, myPW, user, user))
	t.Cleanup(func() {
		_ = exec.Command("mariadb", "-h127.0.0.1", "-uroot", "-e", "DROP USER IF EXISTS '"+user+"'@'%'").Run()
	})
	// Database dumps: a tiny PostgreSQL one, a tiny MariaDB one, each
	// keeping its client busy for a second, so the sampling sees it
	// however loaded the machine.
	pgDump := filepath.Join(dir, "db.sql")
	must(t, os.WriteFile(pgDump, []byte("--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (a int PRIMARY KEY);\nINSERT INTO t VALUES (1);\nSELECT pg_sleep(1);\n"), 0o644))
	myDump := filepath.Join(dir, "shop.sql")
	must(t, os.WriteFile(myDump, []byte("-- MariaDB dump 10.19\nCREATE TABLE t (a INT PRIMARY KEY);\nINSERT INTO t VALUES (1);\nDO SLEEP(1);\n-- Dump completed on 2026-11-30\n"), 0o644))
	cfg := filepath.Join(dir, "drill.yaml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: state
socket: drill.sock
services: {s: {owner: ops@example.org}}
drills:
  r: {service: s, backend: restic, source: {repository: %s, password_file: %s, restic_binary: %s, env: [B2_ACCOUNT_KEY_FILE=%s]}}
  p: {service: s, backend: postgres, source: {dump: %s, server: "postgres://postgres@127.0.0.1:5432/postgres", password_file: %s}}
  m: {service: s, backend: mysql, source: {dump: %s, server: "mysql://%s@127.0.0.1:3306/", password_file: %s}}
`, repo, pw, restic, envFile, pgDump, pgFile, myDump, user, myFile)), 0o644))

	// Sample every process's command line and environment while the
	// drills run.
	var mu sync.Mutex
	var seen, environ bytes.Buffer
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			procs, _ := filepath.Glob("/proc/[0-9]*")
			for _, p := range procs {
				for _, f := range []string{"cmdline", "environ"} {
					if b, err := os.ReadFile(filepath.Join(p, f)); err == nil {
						mu.Lock()
						buf := &seen
						if f == "environ" {
							buf = &environ
						}
						buf.Write(b)
						buf.WriteByte('\n')
						mu.Unlock()
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	out, errs, code := drillCmd(t, cfg, "--log-level", "debug", "run", "r", "p", "m")
	stop()
	wg.Wait()
	hist, _, _ := drillCmd(t, cfg, "history", "--json")
	if code != 0 {
		t.Logf("drill run: exit %d\n%s%s", code, out, errs)
	}
	// Each secret was really used: restic opened the repository with its
	// password, the PostgreSQL drill passed (trust ignores the password;
	// the plugin's own connections hold it, a plain dump starts no client
	// process), and the MariaDB user logged in
	// with its password.
	if code != 0 || strings.Count(hist, `"verdict":"pass"`) != 3 {
		t.Fatalf("want three passes: exit %d\n%s\n%s", code, hist, errs)
	}
	// The sampling saw the tools that got the secrets.
	for _, tool := range []string{"restic\x00", "--defaults-file="} {
		if !strings.Contains(seen.String(), tool) {
			t.Errorf("no process %q was sampled; the check proves nothing for it", strings.TrimSuffix(tool, "\x00"))
		}
	}
	ev, _ := os.ReadFile(filepath.Join(dir, "state", "drill.db"))
	for _, secret := range []string{resticPW, envPW, pgPW, myPW} {
		texts := map[string]string{"process arguments": seen.String(), "stdout": out, "stderr and log": errs,
			"history": hist, "the evidence store": string(ev)}
		// An env NAME_FILE secret is restic's environment variable NAME by
		// design (readable only by the drill user in /proc); every other
		// secret stays out of all environments.
		if secret != envPW {
			texts["process environments"] = environ.String()
		}
		for what, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("secret %s found in %s", secret, what)
			}
		}
	}
}
