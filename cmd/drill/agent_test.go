package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/record"
)

// metricValue returns the value of the series (name{labels} exactly as
// exposed) in text, and false when it is not there.
func metricValue(text, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// An agent runs a scheduled drill of a real filesystem backend, serves
// history, list and run through its socket (it holds the evidence store,
// so nothing else could), streams a run's progress, exposes metrics, and
// a second agent on the same state dir refuses to start.
func TestAgentSchedulesAndServes(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	for i, name := range []string{"a.txt", "sub/b.txt"} {
		must(t, os.WriteFile(filepath.Join(data, name), []byte(strings.Repeat("x", 100*(i+1))), 0o644))
	}
	gate := filepath.Join(dir, "gate")
	metrics := freePort(t)
	cfg := agentConfig(t, dir, "metrics_listen: "+metrics, fmt.Sprintf(`
  sched: {service: s, backend: filesystem, schedule: "@every 1s", source: {path: %s}, checks: {min_files: 2}}
  manual: {service: s, backend: filesystem, source: {path: %s}, checks: {min_files: 100}}
  gated: {service: s, backend: t, source: {name: g, files: 5, gate: %s}}
`, data, data, gate))
	a := startAgent(t, cfg)
	if !strings.Contains(a.ready, "STATUS=3 drills, 1 scheduled") {
		t.Errorf("readiness notification %q, want a status", a.ready)
	}
	// drill run through the agent: its exit code is the verdict's.
	out, errs, code := drillCmd(t, cfg, "run", "manual")
	if code != exitFail || !strings.Contains(out, "FAIL  manual") || !strings.Contains(out, "at least 100 expected") {
		t.Errorf("drill run manual: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFail, out, errs)
	}
	if _, errs, code := drillCmd(t, cfg, "run", "nosuch"); code != exitUsage || !strings.Contains(errs, `unknown drill "nosuch"`) {
		t.Errorf("drill run nosuch: exit %d, stderr %q", code, errs)
	}

	// A run on demand streams its progress, then its result.
	var events []agent.Event
	done := make(chan *agent.Event, 1)
	go func() {
		res, err := a.client().Run(context.Background(), "gated", func(e agent.Event) {
			events = append(events, e)
			if e.Type == "progress" && e.Progress.Phase == "restore" && e.Progress.FilesDone == 5 {
				// drill run of a drill running in the agent: refused.
				if out, errs, code := drillCmd(t, cfg, "run", "gated"); code != exitError || !strings.Contains(errs, "drill gated is already running") {
					t.Errorf("drill run of a running drill: exit %d, want %d\n%s%s", code, exitError, out, errs)
				}
				if err := os.WriteFile(gate, nil, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- res
	}()
	var res *agent.Event
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the gated run did not finish")
	}
	if res == nil || res.Record == nil || res.Record.Verdict != record.VerdictPass {
		t.Fatalf("gated run result %+v, want a pass", res)
	}
	var types []string
	for _, e := range events {
		if len(types) == 0 || types[len(types)-1] != e.Type {
			types = append(types, e.Type)
		}
	}
	if strings.Join(types, " ") != "queued started progress result" {
		t.Errorf("events %q, want queued, started, progress..., result", types)
	}

	// The scheduled drill runs on its own (the agent's scheduler on the
	// real clock); history comes through the socket.
	var recs []record.Record
	waitFor(t, 20*time.Second, "a record of the scheduled drill", func() bool {
		recs = history(t, cfg, "sched")
		return len(recs) > 0
	})
	if recs[0].Verdict != record.VerdictPass || recs[0].Files != 2 {
		t.Errorf("scheduled drill: %s with %d files, reasons %q; want pass with 2", recs[0].Verdict, recs[0].Files, recs[0].Reasons)
	}
	// WATCHDOG_USEC is 2s: a ping every second.
	if _, err := a.waitNote("WATCHDOG=1", 5*time.Second); err != nil {
		t.Errorf("watchdog: %v", err)
	}

	// drill list through the agent: next run and last verdicts.
	out, errs, code = drillCmd(t, cfg, "list")
	if code != 0 || !regexp.MustCompile(`(?m)^manual\s+s\s+filesystem\s+manual\s+-\s+fail`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^sched\s+s\s+filesystem\s+@every 1s\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(pass|running)`).MatchString(out) {
		t.Errorf("drill list: exit %d\n%s%s", code, out, errs)
	}

	// Metrics after a pass and a fail.
	m := metricsText(t, metrics)
	for series, want := range map[string]float64{
		`drill_last_verdict{drill="manual",verdict="fail"}`:           1,
		`drill_last_verdict{drill="manual",verdict="pass"}`:           0,
		`drill_last_verdict{drill="gated",verdict="pass"}`:            1,
		`drill_runs_total{drill="manual",verdict="fail"}`:             1,
		`drill_runs_total{drill="gated",verdict="pass"}`:              1,
		`drill_restored_bytes{drill="gated"}`:                         float64(res.Record.Bytes),
		`drill_agent_up`:                                              1,
		`drill_skipped_overlap_total{drill="manual"}`:                 0,
		`drill_timeout_seconds{drill="manual"}`:                       6 * 3600,
		`drill_schedule_period_seconds{drill="sched"}`:                1,
		`drill_duration_seconds_count{drill="manual"}`:                1,
		`drill_info{backend="filesystem",drill="manual",service="s"}`: 1,
		`drill_service_status{service="s",status="failing"}`:          1,
		`drill_service_status{service="s",status="proven"}`:           0,
	} {
		if got, ok := metricValue(m, series); !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if v, ok := metricValue(m, `drill_last_success_timestamp_seconds{drill="gated"}`); !ok || v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("drill_last_success_timestamp_seconds of gated = %v, want about now", v)
	}
	if _, ok := metricValue(m, `drill_last_success_timestamp_seconds{drill="manual"}`); ok {
		t.Error("a drill that never passed has a last success")
	}
	if !strings.Contains(m, `drill_agent_build_info{goversion=`) {
		t.Error("no drill_agent_build_info")
	}

	// The position is read through the agent too.
	if out, errs, code := drillCmd(t, cfg, "position"); code != 0 || !regexp.MustCompile(`(?m)^s +ops@example.org +3 .* FAILING`).MatchString(out) {
		t.Errorf("position through the agent: exit %d\n%s%s", code, out, errs)
	}

	// The evidence commands go through the agent too.
	if out, errs, code := drillCmd(t, cfg, "evidence", "verify"); code != 0 || !strings.Contains(out, "evidence log verified") {
		t.Errorf("evidence verify through the agent: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := drillCmd(t, cfg, "evidence", "verify", "--thorough"); code != 0 || !strings.Contains(out, "(each signature alone)") {
		t.Errorf("evidence verify --thorough through the agent: exit %d\n%s%s", code, out, errs)
	}
	bundle := filepath.Join(dir, "bundle.tgz")
	if out, errs, code := drillCmd(t, cfg, "evidence", "export", "-o", bundle, "--drill", "manual"); code != 0 || !strings.Contains(out, "wrote "+bundle+": 1 of") {
		t.Errorf("evidence export through the agent: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := drillCmd(t, cfg, "evidence", "verify", bundle, "--key", filepath.Join(dir, "state/keys/drill.pub")); code != 0 || !strings.Contains(out, "1 selected (drill manual)") {
		t.Errorf("verify the agent's bundle: exit %d\n%s%s", code, out, errs)
	}

	// A second agent on the same state dir (another socket) refuses.
	other := filepath.Join(t.TempDir(), "drill.yaml")
	b, _ := os.ReadFile(cfg)
	must(t, os.WriteFile(other, []byte(strings.Replace(strings.Replace(string(b), "socket: "+dir, "socket: "+filepath.Dir(other), 1), "metrics_listen: "+metrics+"\n", "", 1)), 0o644))
	_, errs, code = drillCmd(t, other, "agent")
	if code != exitFail || !strings.Contains(errs, "locked by another process (is a drill agent or another drill command using this state dir?)") {
		t.Errorf("second agent: exit %d, stderr %q", code, errs)
	}
	// And one on the same socket (another state dir) too.
	must(t, os.WriteFile(other, []byte(strings.Replace(string(b), "state_dir: "+dir, "state_dir: "+filepath.Dir(other), 1)), 0o644))
	_, errs, code = drillCmd(t, other, "agent")
	if code != exitFail || !strings.Contains(errs, "another drill agent is listening on it") {
		t.Errorf("agent on a busy socket: exit %d, stderr %q", code, errs)
	}

	if code := a.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("agent exit %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(a.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	// With the agent gone, the CLI works in-process again.
	if _, errs, code := drillCmd(t, cfg, "evidence", "verify"); code != 0 {
		t.Errorf("evidence verify: exit %d: %s", code, errs)
	}
}

// SIGTERM during a restore: the drill is cancelled and recorded as
// interrupted, its scratch is removed, the agent exits 0; a drill run
// waiting on it gets the record.
func TestAgentSIGTERMInterrupts(t *testing.T) {
	dir := t.TempDir()
	cfg := agentConfig(t, dir, "", fmt.Sprintf(`
  long: {service: s, backend: t, source: {name: long, gate: %s/never}}
`, dir))
	a := startAgent(t, cfg)
	done := make(chan *agent.Event, 1)
	go func() {
		res, _ := a.client().Run(context.Background(), "long", nil)
		done <- res
	}()
	waitFor(t, 20*time.Second, "the restore to start", func() bool {
		h := a.health()
		return len(h.Running) == 1 && h.Running[0].Phase == "restore"
	})
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 1 {
		t.Fatalf("scratch holds %d entries during the restore, want 1", len(ents))
	}
	if code := a.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("agent exit %d after SIGTERM, want 0", code)
	}
	if res := <-done; res == nil || res.Record == nil || res.Record.Verdict != record.VerdictInterrupted {
		t.Errorf("the run's result: %+v, want interrupted", res)
	}
	recs := history(t, cfg, "long")
	if len(recs) != 1 || recs[0].Verdict != record.VerdictInterrupted || !strings.Contains(strings.Join(recs[0].Reasons, " "), "the agent is stopping") {
		t.Fatalf("records %+v, want one interrupted by the agent stopping", recs)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 0 {
		t.Errorf("scratch left: %d entries", len(ents))
	}
	if _, errs, code := drillCmd(t, cfg, "evidence", "verify"); code != 0 {
		t.Errorf("evidence verify: exit %d: %s", code, errs)
	}
}

// kill -9 during a restore: the next start records the drill as
// interrupted, removes its scratch directory, and the evidence verifies.
func TestAgentKilledMidRestore(t *testing.T) {
	dir := t.TempDir()
	cfg := agentConfig(t, dir, "", fmt.Sprintf(`
  long: {service: s, backend: t, source: {name: long, gate: %s/never}}
`, dir))
	a := startAgent(t, cfg)
	go func() { _, _ = a.client().Run(context.Background(), "long", nil) }() // ends with the agent
	waitFor(t, 20*time.Second, "the restore to start", func() bool {
		h := a.health()
		return len(h.Running) == 1 && h.Running[0].Phase == "restore"
	})
	pid := a.health().PID
	plugins := children(t, pid)
	if len(plugins) != 1 {
		t.Fatalf("agent children %v, want the plugin", plugins)
	}
	if code := a.stop(syscall.SIGKILL, 10*time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("agent exit %d, want killed", code)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 1 {
		t.Fatalf("scratch holds %d entries after kill -9, want the dead drill's", len(ents))
	}
	// The plugin does not outlive the agent.
	waitFor(t, 10*time.Second, "the orphaned plugin to end", func() bool { return !alive(plugins[0]) })
	b := startAgent(t, cfg)
	recs := history(t, cfg, "long")
	if len(recs) != 1 || recs[0].Verdict != record.VerdictInterrupted ||
		!strings.Contains(recs[0].Reasons[0], fmt.Sprintf("under way in process %d", pid)) {
		t.Fatalf("records %+v, want the killed run recorded as interrupted", recs)
	}
	b.stop(syscall.SIGTERM, 30*time.Second)
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 0 {
		t.Errorf("scratch left: %d entries", len(ents))
	}
	if out, errs, code := drillCmd(t, cfg, "evidence", "verify"); code != 0 {
		t.Errorf("evidence verify: exit %d: %s%s", code, out, errs)
	}
}

// SIGHUP reloads the config: a broken one is refused (RELOADING=1 with
// MONOTONIC_USEC, then READY=1; health and the log say why), a good one
// replaces it. What a reload changes in the schedule is the agent
// package's TestReload.
func TestAgentReload(t *testing.T) {
	dir := t.TempDir()
	cfg := agentConfig(t, dir, "", `
  tick: {service: s, backend: t, schedule: "@hourly", source: {name: tick}}
`)
	a := startAgent(t, cfg)
	good, _ := os.ReadFile(cfg)
	must(t, os.WriteFile(cfg, append(good, "  broken: {service: nosuch, backend: t, source: {name: x}}\n"...), 0o644))
	must(t, a.cmd.Process.Signal(syscall.SIGHUP))
	if _, err := a.waitNote("RELOADING=1\nMONOTONIC_USEC=", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n, err := a.waitNote("READY=1", 10*time.Second); err != nil || !strings.Contains(n, "last reload refused") {
		t.Fatalf("after a refused reload: %q, %v; want READY=1 saying it was refused", n, err)
	}
	if h := a.health(); !strings.Contains(h.ReloadError, `unknown service "nosuch"`) {
		t.Errorf("health after a bad reload: %+v", h)
	}
	if !strings.Contains(a.stderr.String(), `config reload refused; the previous config stays in force`) {
		t.Error("no log line for the refused reload")
	}
	// The CLI refuses the broken file; the agent's own client does not
	// need it.
	if err := a.client().History(context.Background(), agent.HistoryFilter{Drill: "tick"}, func(*record.Record) error { return nil }); err != nil {
		t.Errorf("history after a refused reload: %v", err)
	}

	// A good config without the schedule.
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(good), `schedule: "@hourly", `, "", 1)), 0o644))
	must(t, a.cmd.Process.Signal(syscall.SIGHUP))
	if n, err := a.waitNote("READY=1", 10*time.Second); err != nil || !strings.Contains(n, "STATUS=1 drills, 0 scheduled") {
		t.Fatalf("after a good reload: %q, %v; want READY=1 with the new status", n, err)
	}
	if !strings.Contains(a.stderr.String(), `"msg":"config reloaded"`) {
		t.Error("no log line for the reload")
	}
	if h := a.health(); h.ReloadError != "" {
		t.Errorf("reload error after a good reload: %q", h.ReloadError)
	}
	if code := a.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("agent exit %d, want 0", code)
	}
}

// A bad config at start exits 78 (EX_CONFIG); a socket path that is not a
// socket is refused.
func TestAgentStartRefusals(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte("drills: {x: {service: nosuch}}\n"), 0o644))
	if _, errs, code := drillCmd(t, bad, "agent"); code != exitConfig || !strings.Contains(errs, "bad.yaml:1:") {
		t.Errorf("bad config: exit %d, stderr %q; want %d naming the file and line", code, errs, exitConfig)
	}
	cfg := agentConfig(t, dir, "", "  x: {service: s, backend: t, source: {name: x}}\n")
	must(t, os.WriteFile(filepath.Join(dir, "drill.sock"), []byte("not a socket"), 0o644))
	if _, errs, code := drillCmd(t, cfg, "agent"); code != exitFail || !strings.Contains(errs, "drill.sock exists and is not a socket") {
		t.Errorf("file at the socket path: exit %d, stderr %q", code, errs)
	}
}

// A user who may not use the agent's socket (mode 0660) gets a clear
// error, not a fallback to the evidence store the agent holds.
func TestAgentSocketPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the CLI as another user")
	}
	dir, err := os.MkdirTemp("", "drill-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, d := range []string{dir, filepath.Dir(drillBin)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := agentConfig(t, dir, "", "  x: {service: s, backend: t, source: {name: x}}\n")
	a := startAgent(t, cfg)
	if fi, err := os.Stat(a.socket); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, %v; want 0660", fi.Mode(), err)
	}
	cmd := exec.Command(drillBin, "-c", cfg, "list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage ||
		!strings.Contains(string(out), "drill.sock may not be used by this user: permission denied (ask for membership of the socket's group") {
		t.Errorf("drill list as nobody: %v\n%s", err, out)
	}
	a.stop(syscall.SIGTERM, 30*time.Second)

	// Given to nobody's group with socket_group, the socket serves nobody.
	cfg = agentConfig(t, dir, "socket_group: nogroup", "  x: {service: s, backend: t, source: {name: x}}\n")
	a = startAgent(t, cfg)
	cmd = exec.Command(drillBin, "-c", cfg, "list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !regexp.MustCompile(`(?m)^x\s+s\s+t\s+manual`).Match(out) {
		t.Errorf("drill list as nobody, socket_group nogroup: %v\n%s", err, out)
	}
	a.stop(syscall.SIGTERM, 30*time.Second)
}

// SIGTERM in the middle of a real pg_restore: pg_restore is stopped, the
// scratch database dropped, the drill recorded as interrupted, and the
// agent exits 0.
func TestAgentSIGTERMDuringPgRestore(t *testing.T) {
	dir := t.TempDir()
	dump := pgbenchDump(t, dir, 10)
	drill := fmt.Sprintf("pgterm%d", time.Now().UnixNano()%1e6)
	// A password the server (trust) ignores: it must appear nowhere.
	const canary = "s3cret-canary-7e1f"
	pw := filepath.Join(dir, "pg.pass")
	must(t, os.WriteFile(pw, []byte(canary+"\n"), 0o600))
	cfg := agentConfig(t, dir, "", fmt.Sprintf(`
  %s: {service: s, backend: postgres, source: {dump: %s, server: "postgres://postgres@127.0.0.1:5432/postgres", password_file: %s}}
`, drill, dump, pw))
	a := startAgent(t, cfg)
	done := make(chan *agent.Event, 1)
	go func() {
		res, _ := a.client().Run(context.Background(), drill, nil)
		done <- res
	}()
	waitRestoring(t, a, drill)
	if code := a.stop(syscall.SIGTERM, 60*time.Second); code != 0 {
		t.Errorf("agent exit %d after SIGTERM, want 0", code)
	}
	res := <-done
	if res == nil || res.Record == nil || res.Record.Verdict != record.VerdictInterrupted {
		t.Fatalf("result %+v, want interrupted", res)
	}
	if n := psql(t, scratchCount(drill)); n != "0" {
		t.Errorf("%s scratch databases left on the server", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "scratch")); len(ents) != 0 {
		t.Errorf("scratch left: %d entries", len(ents))
	}
	out, _, _ := drillCmd(t, cfg, "history", "--json")
	if strings.Contains(a.stderr.String(), canary) || strings.Contains(out, canary) {
		t.Error("the password reached the agent's log or the evidence")
	}
}

// kill -9 in the middle of a real pg_restore: the plugin and pg_restore
// end with the agent; the scratch database it left is dropped when the
// agent starts again, and the drill recorded as interrupted.
func TestAgentKilledDuringPgRestore(t *testing.T) {
	dir := t.TempDir()
	dump := pgbenchDump(t, dir, 10)
	drill := fmt.Sprintf("pgkill%d", time.Now().UnixNano()%1e6)
	cfg := agentConfig(t, dir, "", fmt.Sprintf(`
  %s: {service: s, backend: postgres, source: {dump: %s, server: "postgres://postgres@127.0.0.1:5432/postgres"}}
`, drill, dump))
	a := startAgent(t, cfg)
	go func() { _, _ = a.client().Run(context.Background(), drill, nil) }() // ends with the agent
	waitRestoring(t, a, drill)
	a.stop(syscall.SIGKILL, 10*time.Second)
	waitFor(t, 20*time.Second, "pg_restore to end with the agent", func() bool {
		return psql(t, fmt.Sprintf(`select count(*) from pg_stat_activity where datname like 'drill\_%s\_%%'`, drill)) == "0"
	})
	if n := psql(t, scratchCount(drill)); n != "1" {
		t.Fatalf("%s scratch databases after kill -9, want the dead drill's", n)
	}
	b := startAgent(t, cfg)
	if n := psql(t, scratchCount(drill)); n != "0" {
		t.Errorf("%s scratch databases left after the restart", n)
	}
	recs := history(t, cfg, drill)
	if len(recs) != 1 || recs[0].Verdict != record.VerdictInterrupted {
		t.Errorf("records %+v, want one interrupted", recs)
	}
	b.stop(syscall.SIGTERM, 30*time.Second)
}

// psql runs one query on the test server and returns its output.
func psql(t *testing.T, sql string) string {
	t.Helper()
	out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", sql, "postgres").CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func scratchCount(drill string) string {
	return fmt.Sprintf(`select count(*) from pg_database where datname like 'drill\_%s\_%%'`, drill)
}

// pgbenchDump makes a pgbench database at scale, dumps it with pg_dump
// -Fc into dir and drops it.
func pgbenchDump(t *testing.T, dir string, scale int) string {
	t.Helper()
	src := fmt.Sprintf("agent_src_%d", time.Now().UnixNano()%1e9)
	psql(t, "CREATE DATABASE "+src)
	defer psql(t, "DROP DATABASE IF EXISTS "+src)
	dump := filepath.Join(dir, "big.dump")
	for _, c := range [][]string{
		{"pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", strconv.Itoa(scale), src},
		{"pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f", dump, src},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", c[0], err, out)
		}
	}
	return dump
}

// waitRestoring waits until the agent's drill is in pg_restore, with its
// scratch database on the server.
func waitRestoring(t *testing.T, a *agentProc, drill string) {
	t.Helper()
	waitFor(t, 30*time.Second, "pg_restore to fill the scratch database", func() bool {
		h := a.health()
		return len(h.Running) == 1 && h.Running[0].Phase == "restore" && psql(t, scratchCount(drill)) == "1"
	})
}

// children returns the process ids whose parent is pid (started by any
// of its threads).
func children(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	var out []int
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// A drill slow to clean up holds the agent for stop_timeout at most; a
// second signal exits at once.
func TestAgentSecondSignal(t *testing.T) {
	dir := t.TempDir()
	cfg := agentConfig(t, dir, "", fmt.Sprintf("  stuck: {service: s, backend: t, source: {name: stuck, gate: %s/never, cleanup_delay: 1m}}\n", dir))
	a := startAgent(t, cfg)
	go func() { _, _ = a.client().Run(context.Background(), "stuck", nil) }() // ends with the agent
	waitFor(t, 20*time.Second, "the restore to start", func() bool {
		h := a.health()
		return len(h.Running) == 1 && h.Running[0].Phase == "restore"
	})
	must(t, a.cmd.Process.Signal(syscall.SIGTERM))
	if _, err := a.waitNote("STOPPING=1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
		t.Fatal("the agent exited before its drill stopped or stop_timeout passed")
	case <-time.After(500 * time.Millisecond):
	}
	start := time.Now()
	if code := a.stop(syscall.SIGTERM, 5*time.Second); code != 130 {
		t.Errorf("exit %d after a second signal, want 130", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the second signal took %s to end the agent", d)
	}
}
