package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPositionFirstStepsThroughAgent asks a fresh agent, which has run no
// drill yet, for the position: the advice is about the agent (run the
// drills in it now, or see when they run), not about starting one.
func TestPositionFirstStepsThroughAgent(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "data", "f"), []byte("content\n"), 0o644))
	cfg := filepath.Join(dir, "drill.yaml")
	must(t, os.WriteFile(cfg, fmt.Appendf(nil, `state_dir: %[1]s/state
socket: %[1]s/drill.sock
services: {s: {owner: ops@example.org}}
drills:
  copy: {service: s, backend: filesystem, schedule: "@weekly", source: {path: %[1]s/data}}
`, dir), 0o644))
	a := startAgent(t, cfg)
	defer a.stop(syscall.SIGTERM, 30*time.Second)

	out, errs, code := drillCmd(t, cfg, "position")
	want := "no evidence yet: the agent has not finished a drill, so nothing is proven. What to do first:\n" +
		"  drill run --all    run every drill now, in the agent, and record its evidence\n" +
		"  drill list         when each drill runs next\n"
	if code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("drill position: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout to end with:\n%s", code, out, errs, want)
	}
	if out, _, _ := drillCmd(t, cfg, "position", "--json"); strings.Contains(out, "no evidence") || !strings.HasPrefix(out, "[\n") {
		t.Errorf("drill position --json:\n%s\nwant a JSON array and nothing else", out)
	}
}
