package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/drillhq/drill/internal/config"
)

// The systemd unit has what issue 5 asks of it and systemd accepts it.
func TestPackagingUnit(t *testing.T) {
	unit, err := os.ReadFile("../../packaging/drill.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "StateDirectory=drill", "RuntimeDirectory=drill", "User=drill",
		"ProtectSystem=strict", "ProtectHome=read-only", "NoNewPrivileges=yes", "PrivateTmp=yes",
		"ReadWritePaths=/var/lib/drill", "RestartPreventExitStatus=78", "ExecReload=/bin/kill -HUP $MAINPID",
		"WatchdogSec=", "ExecStart=/usr/local/bin/drill agent -c /etc/drill/drill.yaml",
	} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("drill.service lacks %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze to verify the unit with")
	}
	// systemd-analyze checks that ExecStart exists: point it at the built binary.
	local := filepath.Join(t.TempDir(), "drill.service")
	must(t, os.WriteFile(local, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/drill", drillBin)), 0o644))
	if out, err := exec.Command(analyze, "verify", local).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The sample config is valid, and make install puts everything in place
// under DESTDIR and PREFIX without overwriting an existing config.
func TestPackagingInstall(t *testing.T) {
	sample, err := os.ReadFile("../../packaging/drill.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("/etc/drill/drill.yaml", sample); err != nil {
		t.Fatalf("packaging/drill.yaml: %v", err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dest, "etc/drill"), 0o755))
	must(t, os.WriteFile(filepath.Join(dest, "etc/drill/drill.yaml"), []byte("# mine\n"), 0o640))
	// -o build: install the binary the tests built, without building again.
	cmd := exec.Command("make", "-C", "../..", "-o", "build", "install", "BIN="+filepath.Dir(drillBin), "DESTDIR="+dest, "PREFIX=/usr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"usr/bin/drill": 0o755, "etc/systemd/system/drill.service": 0o644,
		"usr/share/drill/prometheus-alerts.yaml": 0o644, "etc/drill/drill.yaml": 0o640,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %v", path, err, fi.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/drill/drill.yaml")); string(b) != "# mine\n" {
		t.Error("make install overwrote the existing config")
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/systemd/system/drill.service")); !strings.Contains(string(b), "ExecStart=/usr/bin/drill agent") {
		t.Error("the installed unit does not start drill from PREFIX")
	}
}

// The alert rules are valid YAML in Prometheus's rule-file shape, and
// every drill_ series they use is one the agent exports.
func TestPackagingAlerts(t *testing.T) {
	b, err := os.ReadFile("../../packaging/prometheus-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, n := range []string{"drill_info", "drill_last_run_timestamp_seconds", "drill_last_success_timestamp_seconds",
		"drill_last_verdict", "drill_duration_seconds", "drill_restored_bytes", "drill_runs_total",
		"drill_skipped_overlap_total", "drill_schedule_period_seconds", "drill_timeout_seconds",
		"drill_next_run_timestamp_seconds", "drill_agent_build_info", "drill_agent_up", "drill_agent_start_time_seconds", "drill_service_status"} {
		exported[n] = true
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: expr, severity and summary are required", r.Alert)
			}
			for _, m := range regexp.MustCompile(`\bdrill_[a-z_]+`).FindAllString(r.Expr, -1) {
				if !exported[m] {
					t.Errorf("alert %s uses %s, which the agent does not export", r.Alert, m)
				}
			}
		}
	}
	for _, want := range []string{"DrillFailed", "DrillOverdue", "DrillMetricsAbsent", "DrillAgentDown", "ServiceRecoveryNotProven"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}
