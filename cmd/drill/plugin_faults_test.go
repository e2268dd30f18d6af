package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins/plugintest"
)

// External plugins are real processes pinned by SHA-256. Whatever a plugin
// does wrong (crash, hang, another protocol version, a changed binary),
// the drill ends in an error verdict with a clear reason, drill exits 3,
// and the host is fine: the next drill in the same run passes.
func TestExternalPluginFaults(t *testing.T) {
	const pkg = "github.com/drillhq/drill/plugins/internal/testplugin"
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("state_dir: state\nservices: {s: {owner: ops@example.org}}\nplugins:\n")
	for _, mode := range []string{"ok", "crash", "hang", "protocol2"} {
		path, sum := plugintest.Build(t, pkg, "-ldflags", "-X main.mode="+mode)
		fmt.Fprintf(&cfg, "  t-%s: {path: %s, sha256: %s}\n", mode, path, sum)
		if mode == "ok" {
			// The same binary pinned with another digest, as if it had been replaced.
			fmt.Fprintf(&cfg, "  t-changed: {path: %s, sha256: %s}\n", path, strings.Repeat("0", 64))
		}
	}
	cfg.WriteString("drills:\n")
	for _, mode := range []string{"ok", "crash", "hang", "protocol2", "changed"} {
		fmt.Fprintf(&cfg, "  %s: {service: s, backend: t-%s, timeout: 3s, source: {name: %s}}\n", mode, mode, mode)
	}
	if err := os.WriteFile(filepath.Join(dir, "drill.yaml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(drillBin, "-c", filepath.Join(dir, "drill.yaml"), "run", "--json", "crash", "hang", "protocol2", "changed", "ok")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("drill run: %v, want exit %d\nstderr:\n%s", err, exitError, stderr.String())
	}
	want := map[string]struct{ verdict, reason string }{
		"crash":     {"error", `plugin process exited during Restore`},
		"hang":      {"error", `backend t-hang stopped responding: no progress from the restore within the drill's timeout of 3s`},
		"protocol2": {"error", `speaks protocol version 2, drill speaks 1`},
		"changed":   {"error", `does not match its configured sha256`},
		"ok":        {"pass", ""},
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d records, want %d:\n%s", len(lines), len(want), stdout.String())
	}
	for _, l := range lines {
		var rec struct {
			Drill, Verdict string
			Reasons        []string
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		w := want[rec.Drill]
		if rec.Verdict != w.verdict || !strings.Contains(strings.Join(rec.Reasons, "\n"), w.reason) {
			t.Errorf("drill %s: verdict %s reasons %q; want %s with %q", rec.Drill, rec.Verdict, rec.Reasons, w.verdict, w.reason)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
}
