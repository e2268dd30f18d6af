package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins/plugintest"
)

// A restic whose password_command hangs: the command runs once, before
// the plugin confines itself, and the drill's timeout ends the drill
// there (error). A command that would hang on its second call does not
// matter any more: restic gets the first call's password through a pipe
// and never runs the command, so that drill passes. Neither leaves a
// password command running or scratch space behind.
func TestResticPasswordCommandHangs(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to find the password command's processes")
	}
	restic := filepath.Join(filepath.Dir(drillBin), "restic")
	dir := t.TempDir()
	pw, repo, data := filepath.Join(dir, "pw"), filepath.Join(dir, "repo"), filepath.Join(dir, "data")
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init"}, {"backup", "."}} {
		cmd := exec.Command(restic, append([]string{"-r", repo, "--password-file", pw, "-q"}, args...)...)
		cmd.Dir = data
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	// Sleeps no other test runs, one per drill, to find them among all
	// processes.
	secs := map[string]string{"list": strconv.Itoa(2000000 + os.Getpid()), "restore": strconv.Itoa(3000000 + os.Getpid())}
	t.Cleanup(func() {
		for _, s := range secs {
			for _, pid := range plugintest.Running("sleep", s) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	// The restore's password command answers the first call and hangs
	// after.
	once := fmt.Sprintf(`sh -c 'if mkdir %[1]s/1 2>/dev/null; then cat %[2]s; else exec sleep %[3]s; fi'`, dir, pw, secs["restore"])
	cfg := filepath.Join(dir, "drill.yaml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `state_dir: state
services: {s: {owner: ops@example.org}}
drills:
  list:
    service: s
    backend: restic
    timeout: 3s
    source: {repository: %[1]s, restic_binary: %[2]s, password_command: "sleep %[3]s"}
  restore:
    service: s
    backend: restic
    timeout: 1m
    stall_timeout: 2s
    source: {repository: %[1]s, restic_binary: %[2]s, password_command: %[4]q}
`, repo, restic, secs["list"], once), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(drillBin, "-c", cfg, "run", "--json", "list", "restore")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("drill run: %v, want exit %d\nstdout:\n%s\nstderr:\n%s", err, exitError, stdout.String(), stderr.String())
	}
	want := map[string]string{
		"list":    "backend restic did not answer within the drill's timeout of 3s (while confining its plugin process, which runs a password_command first)",
		"restore": "",
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var rec struct {
			Drill, Verdict string
			Reasons        []string
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		wantVerdict := "error"
		if want[rec.Drill] == "" {
			wantVerdict = "pass"
		}
		if rec.Verdict != wantVerdict || !strings.Contains(strings.Join(rec.Reasons, "\n"), want[rec.Drill]) {
			t.Errorf("drill %s: verdict %s, reasons %q; want %s with %q", rec.Drill, rec.Verdict, rec.Reasons, wantVerdict, want[rec.Drill])
		}
		delete(want, rec.Drill)
	}
	if len(want) > 0 {
		t.Errorf("no record of %v:\n%s", want, stdout.String())
	}
	// 3s and 2s, starting restic twice, and the stops: far below the
	// restore drill's timeout.
	if took > 45*time.Second {
		t.Errorf("the drills took %s", took)
	}
	for drill, s := range secs {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			left := plugintest.Running("sleep", s)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("drill %s: password commands left running after drill run exited: %v", drill, left)
				break
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
}
