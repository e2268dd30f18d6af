package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins/plugintest"
)

// Every plugin process confines itself before it touches a backup. With
// the real drill binary and a real plugin process: a plugin that tries to
// read the signing key under state_dir, write beside its scratch
// directory, run /bin/sh or connect to a port its source does not name is
// denied by the kernel, and says so in its verdict's reasons; the record
// carries details.sandbox, `drill run` prints it, and the key's bytes
// appear nowhere. require_sandbox refuses to run a drill whose plugin is
// not confined (DRILL_SANDBOX=off, the switch for tests and measurements)
// before anything is read.
func TestSandboxEndToEnd(t *testing.T) {
	path, sum := plugintest.Build(t, "github.com/drillhq/drill/plugins/internal/testplugin")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	source := filepath.Join(dir, "backups", "app.dump")
	if err := os.MkdirAll(filepath.Dir(source), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(source, []byte("a dump\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	key := filepath.Join(state, "keys", "drill.key")
	cfg := filepath.Join(dir, "drill.yaml")
	writeCfg := fmt.Sprintf(`state_dir: %s
services: {s: {owner: ops@example.org}}
plugins:
  t: {path: %s, sha256: %s}
drills:
  probe:
    service: s
    backend: t
    source: {name: probe, probe: true, source_file: %s, forbidden_file: %s, outside: %s, allowed_port: %d, denied_port: %d}
  strict:
    service: s
    backend: t
    require_sandbox: true
    source: {name: strict}
`, state, path, sum, source, key, state, ports[0], ports[1])
	if err := os.WriteFile(cfg, []byte(writeCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := drillCmd(t, cfg, "keys", "init"); code != 0 {
		t.Fatalf("drill keys init: exit %d: %s", code, errs)
	}
	keyBody, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(keyBody))

	out, errs, code := drillCmd(t, cfg, "run", "probe")
	if code != exitFail {
		t.Fatalf("drill run probe: exit %d, want %d (the probes are reasons of kind fail)\n%s\n%s", code, exitFail, out, errs)
	}
	if !strings.Contains(out, "sandbox landlock ABI ") {
		t.Errorf("drill run does not show the confinement:\n%s", out)
	}
	for name, want := range map[string]string{
		"read-source": "allowed", "write-scratch": "allowed", "connect-allowed": "allowed",
		"read-secret":   "denied (open " + key + ": permission denied)",
		"write-outside": "denied", "exec-shell": "denied", "connect-denied": "denied", "signal-host": "denied",
	} {
		if !strings.Contains(out, "probe "+name+": "+want) {
			t.Errorf("drill run: no reason %q:\n%s", "probe "+name+": "+want, out)
		}
	}
	for _, p := range []string{filepath.Join(state, "pwned"), filepath.Join(state, "shell")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists: the plugin wrote outside its scratch directory", p)
		}
	}
	recs := history(t, cfg, "probe")
	if len(recs) != 1 || !strings.HasPrefix(recs[0].Details["sandbox"], "landlock ABI ") {
		t.Fatalf("records %+v: want one with details.sandbox landlock", recs)
	}
	pos, errs, code := drillCmd(t, cfg, "position", "--json")
	if code != 0 || !strings.Contains(pos, `"last_sandbox": "landlock ABI `) {
		t.Errorf("drill position --json: exit %d, no last_sandbox of landlock:\n%s\n%s", code, pos, errs)
	}
	page := filepath.Join(dir, "position.html")
	if _, errs, code := drillCmd(t, cfg, "position", "--html", page); code != 0 {
		t.Errorf("drill position --html: exit %d: %s", code, errs)
	} else if b, _ := os.ReadFile(page); !strings.Contains(string(b), "sandbox: landlock ABI ") {
		t.Errorf("the position page does not show the confinement")
	}
	hist, _, _ := drillCmd(t, cfg, "history", "--json")
	for what, s := range map[string]string{"drill run's output": out + errs, "the evidence": hist} {
		if strings.Contains(s, secret) {
			t.Errorf("the signing key appears in %s", what)
		}
	}

	// require_sandbox: confined, the drill passes; unconfined, it errors
	// before anything is read.
	if out, errs, code := drillCmd(t, cfg, "run", "strict"); code != 0 {
		t.Fatalf("drill run strict: exit %d, want 0\n%s\n%s", code, out, errs)
	}
	t.Setenv("DRILL_SANDBOX", "off")
	out, errs, code = drillCmd(t, cfg, "run", "--json", "strict")
	if code != exitError {
		t.Fatalf("drill run strict with DRILL_SANDBOX=off: exit %d, want %d\n%s\n%s", code, exitError, out, errs)
	}
	var rec record.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != record.VerdictError || len(rec.Reasons) != 1 ||
		!strings.Contains(rec.Reasons[0], "require_sandbox is set but backend t's plugin process could not confine itself (none: disabled by DRILL_SANDBOX=off") ||
		!strings.HasSuffix(rec.Reasons[0], "nothing was restored") {
		t.Errorf("verdict %s, reasons %q; want error: require_sandbox ... nothing was restored", rec.Verdict, rec.Reasons)
	}
	if rec.RestorePoint.ID != "" || !strings.HasPrefix(rec.Details["sandbox"], "none: disabled by DRILL_SANDBOX=off") {
		t.Errorf("restore point %q, sandbox %q: want nothing listed and the confinement recorded", rec.RestorePoint.ID, rec.Details["sandbox"])
	}
}
