package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Every status of the recovery position, reached the way DESIGN.md
// defines it, over a real evidence log written by real filesystem drills
// (real plugin processes, real archives) with the clock injected; and
// --at reproduces an earlier position from the same log.
func TestPositionFromRealDrills(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "f"), []byte("content\n"), 0o644))
	for _, name := range []string{"files", "ledger", "cold"} {
		if out, err := exec.Command("tar", "-czf", filepath.Join(dir, name+".tar.gz"), "-C", data, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v: %s", err, out)
		}
	}
	good, _ := os.ReadFile(filepath.Join(dir, "ledger.tar.gz"))
	t0 := time.Now().UTC()
	clock := t0
	day := 24 * time.Hour
	r, store, cfg := realRunner(t, dir, `
state_dir: state
services:
  files: {owner: ops@example.org, priority: 1, review_every: 7d}
  ledger: {owner: dba@example.org, priority: 1, review_every: 7d}
  cold: {owner: ops@example.org, priority: 2, review_every: 7d}
  new: {owner: ops@example.org, priority: 3, review_every: 7d}
drills:
  files: {service: files, backend: filesystem, source: {archive: files.tar.gz}}
  ledger: {service: ledger, backend: filesystem, source: {archive: ledger.tar.gz}}
  cold: {service: cold, backend: filesystem, source: {archive: cold.tar.gz}}
  new: {service: new, backend: filesystem, source: {archive: files.tar.gz}}
`, &clock)
	run := func(at time.Duration, drill string, want record.Verdict) {
		t.Helper()
		clock = t0.Add(at)
		rec, err := r.Run(context.Background(), drill)
		if err != nil || rec.Verdict != want {
			t.Fatalf("drill %s at +%s: %v, %v (%q); want %s", drill, at, rec.Verdict, err, rec.Reasons, want)
		}
	}
	damage := func(damaged bool) {
		b := good
		if damaged {
			b = good[:len(good)/2]
		}
		if err := os.WriteFile(filepath.Join(dir, "ledger.tar.gz"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	position := func(at time.Duration) map[string]string {
		t.Helper()
		var recs []*record.Record
		must(t, store.Entries(func(e *evidence.Entry) error { recs = append(recs, e.Record); return nil }, false))
		out := map[string]string{}
		for _, sp := range drills.Position(cfg, recs, t0.Add(at)) {
			out[sp.Service] = string(sp.Status)
		}
		return out
	}
	check := func(at time.Duration, want map[string]string) {
		t.Helper()
		got := position(at)
		for svc, w := range want {
			if got[svc] != w {
				t.Errorf("at +%s: %s is %s, want %s", at, svc, got[svc], w)
			}
		}
	}

	run(0, "files", "pass")
	run(0, "ledger", "pass")
	run(0, "cold", "pass")
	check(day, map[string]string{"files": "proven", "ledger": "proven", "cold": "proven", "new": "untested"})

	damage(true)
	run(2*day, "ledger", "fail")
	atThree := position(3 * day)
	check(3*day, map[string]string{"ledger": "at_risk", "files": "proven"})

	run(10*day, "ledger", "fail")
	run(10*day, "files", "pass")
	check(10*day+time.Hour, map[string]string{"ledger": "failing", "files": "proven", "cold": "stale", "new": "untested"})

	// The position as it was at +3d, from the log as it is now.
	if got := position(3 * day); len(got) != len(atThree) || got["ledger"] != atThree["ledger"] || got["files"] != atThree["files"] || got["cold"] != atThree["cold"] {
		t.Errorf("position at +3d now %v, then %v", got, atThree)
	}
	damage(false)
	run(11*day, "ledger", "pass")
	check(11*day+time.Hour, map[string]string{"ledger": "proven"})
	if _, err := store.Verify(context.Background()); err != nil {
		t.Errorf("evidence: %v", err)
	}
}

// realRunner is a Runner with real plugin processes over a fresh signed
// evidence store in dir, for the config text yml (in dir), whose clock
// reads *clock.
func realRunner(t *testing.T, dir, yml string, clock *time.Time) (*drills.Runner, *evidence.Store, *config.Config) {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "drill.yaml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.LoadOrCreate(filepath.Join(dir, "keys"), "test/drill")
	if err != nil {
		t.Fatal(err)
	}
	store, err := evidence.Open(filepath.Join(dir, "drill.db"), evidence.Options{Origin: "test/drill", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { must(t, store.Close()) })
	return &drills.Runner{
		Config: cfg, Recorder: store, Marks: store, ScratchRoot: filepath.Join(dir, "scratch"),
		Launcher: &drills.PluginLauncher{Self: drillBin, Builtins: builtinNames(), Env: drills.PluginEnv()},
		Now:      func() time.Time { return *clock },
	}, store, cfg
}
