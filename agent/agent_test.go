package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drillhq/drill/internal/record"
)

// A scheduled drill runs at its cron time, not a minute before, then at
// its next time; a drill without a schedule never runs on its own.
func TestScheduleRunsAtItsTime(t *testing.T) {
	h := newHarness(t, "", `
  nightly: {service: s, backend: fake, schedule: "CRON_TZ=UTC 0 3 * * *", source: {name: n}}
  manual: {service: s, backend: fake, source: {name: m}}
`)
	if !slices.ContainsFunc(h.notes.all(), func(n string) bool { return n == "READY=1\nSTATUS=2 drills, 1 scheduled" }) {
		t.Errorf("notifications %q, want READY=1 with the status", h.notes.all())
	}
	h.pass(59 * time.Minute)
	if got := h.backend.started(); len(got) != 0 {
		t.Fatalf("at 02:59, drills started: %q", got)
	}
	h.pass(time.Minute)
	h.settle()
	recs := h.records("nightly")
	if len(recs) != 1 || recs[0].Verdict != record.VerdictPass || !recs[0].Started.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("records at 03:00 %+v, want one pass started at 03:00", recs)
	}
	h.pass(24 * time.Hour)
	h.settle()
	recs = h.records("nightly")
	if len(recs) != 2 || !recs[1].Started.Equal(epoch.Add(25*time.Hour)) {
		t.Errorf("after a day, %d records (the second started %v), want two, the second at 03:00 the next day", len(recs), recs[len(recs)-1].Started)
	}
	if len(h.records("manual")) != 0 {
		t.Error("a drill without a schedule ran")
	}
	if want := []string{"nightly schedule", "nightly schedule"}; !slices.Equal(h.starts(), want) {
		t.Errorf("starts %q, want %q", h.starts(), want)
	}
}

// A scheduled run of a drill still running is skipped, counted and
// logged; the drill is not started again, and once it ends it runs at its
// next time, with no burst of the runs it missed. A clock that jumps over
// several runs (a suspended host) runs the drill once.
func TestOverlapIsSkipped(t *testing.T) {
	h := newHarness(t, "", `
  slow: {service: s, backend: fake, schedule: "@every 10m", source: {name: slow}}
`)
	release := h.backend.gate("slow")
	h.pass(10 * time.Minute)
	h.waitRestoring("slow")
	h.pass(30 * time.Minute) // three runs due while it runs
	if got := h.backend.started(); len(got) != 1 {
		t.Errorf("restores %q while the first ran, want one", got)
	}
	if m := h.metric(`drill_skipped_overlap_total{drill="slow"}`); m != "3" {
		t.Errorf("drill_skipped_overlap_total %q, want 3", m)
	}
	if n := strings.Count(h.log.String(), "scheduled run skipped: the drill's previous run has not finished"); n != 3 {
		t.Errorf("%d log lines of skipped runs, want 3", n)
	}
	release()
	h.settle()
	if recs := h.records("slow"); len(recs) != 1 || recs[0].Verdict != record.VerdictPass {
		t.Fatalf("records %+v, want the one run, passed", recs)
	}
	h.pass(10 * time.Minute)
	h.settle()
	if n := len(h.records("slow")); n != 2 {
		t.Errorf("%d records 10 minutes after the long run, want 2", n)
	}
	h.jump(3 * time.Hour)
	h.settle()
	if n := len(h.records("slow")); n != 3 {
		t.Errorf("%d records after the clock jumped 3 hours, want 3 (one run for the jump)", n)
	}
}

// max_concurrent holds: the drills due at once beyond it wait, in name
// order, and start as the running ones end; a run on demand of a drill
// running or waiting is refused.
func TestMaxConcurrent(t *testing.T) {
	h := newHarness(t, "max_concurrent: 2", `
  c: {service: s, backend: fake, schedule: "@hourly", source: {name: c}}
  a: {service: s, backend: fake, schedule: "@hourly", source: {name: a}}
  b: {service: s, backend: fake, schedule: "@hourly", source: {name: b}}
`)
	releaseA, releaseB := h.backend.gate("a"), h.backend.gate("b")
	h.pass(time.Hour)
	h.waitRestoring("a")
	h.waitRestoring("b")
	running, waiting := h.running()
	if len(running) != 2 || !slices.Equal(waiting, []string{"c"}) {
		t.Fatalf("running %q, waiting %q; want a and b running, c waiting", running, waiting)
	}
	c := h.client()
	var se *StatusError
	if _, err := c.Run(context.Background(), "c", nil); !errors.As(err, &se) || se.Code != http.StatusConflict ||
		se.Message != "drill c is already running or waiting to run; its result will be in drill history" {
		t.Errorf("run of a waiting drill: %v", err)
	}
	if _, err := c.Run(context.Background(), "a", nil); !errors.As(err, &se) || se.Code != http.StatusConflict ||
		!strings.Contains(se.Message, "drill a is already running (schedule run since 2026-03-02T03:00:00Z)") {
		t.Errorf("run of a running drill: %v", err)
	}
	releaseB()
	waitFor(t, "c to start", func() bool { return slices.Contains(h.backend.started(), "c") })
	releaseA()
	h.settle()
	if got := h.backend.started(); !slices.Equal(got[2:], []string{"c"}) {
		t.Errorf("restores in the order %q, want c last", got)
	}
}

// A drill that missed a run while no agent ran runs once at start
// (catch_up); one with catch_up false, and one that never ran, wait for
// their time.
func TestCatchUp(t *testing.T) {
	drillLines := `
  missed: {service: s, backend: fake, schedule: "@every 1h", source: {name: a}}
  nocatch: {service: s, backend: fake, schedule: "@every 1h", catch_up: false, source: {name: b}}
`
	h := newHarness(t, "", drillLines)
	h.pass(time.Hour)
	h.settle()
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	// Down for three hours; a drill that never ran is added meanwhile.
	if err := h.clock.set(h.clock.Now().Add(3*time.Hour + time.Minute)); err != nil {
		t.Fatal(err)
	}
	h.writeConfig("", drillLines+`  never: {service: s, backend: fake, schedule: "@every 1h", source: {name: c}}
`)
	h.open()
	h.settle()
	if want := []string{"missed schedule", "nocatch schedule", "missed catch-up"}; !slices.Equal(h.starts(), want) {
		t.Errorf("starts %q, want %q", h.starts(), want)
	}
	if recs := h.records("missed"); len(recs) != 2 || !recs[1].Started.Equal(h.clock.Now()) {
		t.Errorf("missed: %d records, want the caught-up one at the start", len(recs))
	}
}

// Reload: a config with problems is refused and the one in force stays
// (its schedule goes on; health and the log say why); a good one replaces
// it: drills added run on their schedule, drills removed stop, and
// max_concurrent follows.
func TestReload(t *testing.T) {
	h := newHarness(t, "", `
  old: {service: s, backend: fake, schedule: "@every 1h", source: {name: o}}
`)
	h.writeConfig("", `  old: {service: nosuch, backend: fake, schedule: "@every 1h", source: {name: o}}
`)
	h.a.Reload()
	if err := h.health().ReloadError; !strings.Contains(err, `unknown service "nosuch"`) {
		t.Errorf("health after a bad reload: reload_error %q", err)
	}
	if !strings.Contains(h.log.String(), "config reload refused; the previous config stays in force") {
		t.Error("no log line of the refused reload")
	}
	notes := h.notes.all()
	if n := notes[len(notes)-1]; !strings.Contains(n, "READY=1") || !strings.Contains(n, "last reload refused") ||
		!slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "RELOADING=1\nMONOTONIC_USEC=") }) {
		t.Errorf("notifications %q, want RELOADING=1 then READY=1 saying the reload was refused", notes)
	}
	h.pass(time.Hour)
	h.settle()
	if n := len(h.records("old")); n != 1 {
		t.Fatalf("%d runs of the old schedule after a refused reload, want 1", n)
	}

	h.writeConfig("max_concurrent: 2", `
  old: {service: s, backend: fake, source: {name: o}}
  new: {service: s, backend: fake, schedule: "@every 30m", source: {name: n}}
`)
	h.a.Reload()
	if err := h.health().ReloadError; err != "" {
		t.Errorf("reload error after a good reload: %q", err)
	}
	h.pass(2 * time.Hour)
	h.settle()
	if o, n := len(h.records("old")), len(h.records("new")); o != 1 || n != 4 {
		t.Errorf("in 2 hours after the reload, %d runs of old (unscheduled) and %d of new (every 30m); want 1 and 4", o, n)
	}
	h.a.queue.mu.Lock()
	if h.a.queue.max != 2 {
		t.Errorf("max_concurrent %d after the reload, want 2", h.a.queue.max)
	}
	h.a.queue.mu.Unlock()
}

// Close cancels the running drills, which record themselves as
// interrupted, tells systemd it is stopping, refuses new runs, and
// removes the socket; a drill that ignores its cancellation holds Close
// for stop_timeout only, and is named in its error.
func TestCloseInterrupts(t *testing.T) {
	h := newHarness(t, "", `
  long: {service: s, backend: fake, schedule: "@hourly", source: {name: l}}
`)
	h.backend.gate("long")
	h.pass(time.Hour)
	h.waitRestoring("long")
	a := h.a
	if err := h.close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !slices.Contains(h.notes.all(), "STOPPING=1\nSTATUS=stopping: cancelling running drills") {
		t.Errorf("notifications %q, want STOPPING=1", h.notes.all())
	}
	if _, _, err := a.submit("long", triggerDemand, context.Background()); !errors.Is(err, errStopping) {
		t.Errorf("a run after Close: %v, want errStopping", err)
	}
	h.open()
	recs := h.records("long")
	if len(recs) != 1 || recs[0].Verdict != record.VerdictInterrupted || !strings.Contains(strings.Join(recs[0].Reasons, " "), "the agent is stopping") {
		t.Fatalf("records %+v, want one interrupted by the agent stopping", recs)
	}

	// A drill that ignores its cancellation.
	h.writeConfig("", `
  long: {service: s, backend: fake, schedule: "@hourly", source: {name: l}}
`)
	writeFile(t, h.cfgPath, strings.Replace(readFile(t, h.cfgPath), "stop_timeout: 5s", "stop_timeout: 1s", 1))
	h.a.Reload()
	h.backend.mu.Lock()
	h.backend.stubborn = true
	h.backend.mu.Unlock()
	release := h.backend.gate("long")
	h.pass(time.Hour)
	waitFor(t, "the second run", func() bool { return len(h.backend.started()) == 2 })
	a = h.a
	start := time.Now()
	err := h.close()
	if err == nil || err.Error() != "drills still running after stop_timeout 1s: long" {
		t.Errorf("Close with a drill stuck: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s with stop_timeout 1s", d)
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.queue.wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// A run on demand through the socket streams queued, started, progress
// and its result, as drill run shows them.
func TestRunOnDemand(t *testing.T) {
	h := newHarness(t, "", `
  d: {service: s, backend: fake, source: {name: d}}
  bad: {service: s, backend: fake, source: {name: b}, checks: {min_files: 100}}
`)
	release := h.backend.gate("d")
	var types []string
	res, err := h.client().Run(context.Background(), "d", func(e Event) {
		if len(types) == 0 || types[len(types)-1] != e.Type {
			types = append(types, e.Type)
		}
		if e.Type == "progress" {
			release()
		}
	})
	if err != nil || res.Record == nil || res.Record.Verdict != record.VerdictPass {
		t.Fatalf("run d: %+v, %v; want a pass", res, err)
	}
	if got := strings.Join(types, " "); got != "queued started progress result" {
		t.Errorf("events %q, want queued started progress result", got)
	}
	res, err = h.client().Run(context.Background(), "bad", nil)
	if err != nil || res.Record == nil || res.Record.Verdict != record.VerdictFail {
		t.Errorf("run bad: %+v, %v; want a fail", res, err)
	}
	var se *StatusError
	if _, err := h.client().Run(context.Background(), "nosuch", nil); !errors.As(err, &se) || se.Code != http.StatusNotFound ||
		se.Message != `unknown drill "nosuch" (defined: bad, d)` {
		t.Errorf("run nosuch: %v", err)
	}
	if want := []string{"d demand", "bad demand"}; !slices.Equal(h.starts(), want) {
		t.Errorf("starts %q, want %q", h.starts(), want)
	}
}

// Alerts: a webhook gets one alert per change of a service's status and
// one per failure that changes nothing, none for a pass that changes
// nothing, and the change to stale when review_every passes with no
// drill (time alone, on the agent's clock); a healthcheck URL gets
// start, success and fail pings. A change made while the agent was down
// is alerted at its start; one already alerted is not alerted again.
func TestAlerts(t *testing.T) {
	var mu sync.Mutex
	var alerts []Alert
	var pings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/hc/") {
			pings = append(pings, r.URL.Path)
			return
		}
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("alert body: %v", err)
		}
		alerts = append(alerts, a)
	}))
	defer srv.Close()
	events := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, al := range alerts {
			out = append(out, al.Event+" "+al.Service+" "+al.PreviousStatus+">"+al.Status)
		}
		return out
	}
	// A webhook that accepts connections and never answers delays neither
	// a drill nor the other targets, and Close by alertGrace at most.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	t.Cleanup(func(g time.Duration) func() { return func() { alertGrace = g } }(alertGrace))
	alertGrace = 300 * time.Millisecond
	h := newHarness(t, "notify: [{webhook: 'http://"+hole.Addr().String()+"/never'}, {webhook: '"+srv.URL+"/alerts?token=s3cr3t'}]", `
  ok: {service: s, backend: fake, healthcheck: `+srv.URL+`/hc/ok, source: {name: ok}}
  bad: {service: s2, backend: fake, healthcheck: `+srv.URL+`/hc/bad, source: {name: bad}, checks: {min_files: 100}}
`)
	b := strings.Replace(readFile(t, h.cfgPath), "s: {owner: ops@example.org}", "s: {owner: ops@example.org, review_every: 1h}", 1)
	writeFile(t, h.cfgPath, b)
	h.a.Reload()
	for _, d := range []string{"ok", "ok", "bad", "bad"} {
		start := time.Now()
		if _, err := h.client().Run(context.Background(), d, nil); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("run %s took %s: the webhook that never answers delayed it", d, took)
		}
	}
	want := []string{"status_changed s untested>proven", "status_changed s2 untested>failing", "drill_failed s2 >failing"}
	waitFor(t, "three alerts", func() bool { return len(events()) >= 3 })

	h.pass(time.Hour + 2*time.Second) // s goes stale on the agent's clock
	waitFor(t, "the stale alert", func() bool { return len(events()) >= 4 })
	want = append(want, "status_changed s proven>stale")
	if got := events(); !slices.Equal(got, want) {
		t.Errorf("alerts\n%q\nwant\n%q", got, want)
	}
	mu.Lock()
	if al := alerts[1]; al.Verdict != record.VerdictFail || len(al.Reasons) == 0 || al.Owner != "dba@example.org" || al.LogIndex == nil || al.Drill != "bad" {
		t.Errorf("the failure's alert: %+v", al)
	}
	if al := alerts[3]; al.Drill != "" || !al.Time.Equal(epoch.Add(time.Hour+time.Second)) {
		t.Errorf("the stale alert: %+v, want no drill, at the end of review_every on the agent's clock", al)
	}
	// Each target has its own lane: the order holds within one.
	for drill, want := range map[string][]string{
		"ok":  {"/hc/ok/start", "/hc/ok", "/hc/ok/start", "/hc/ok"},
		"bad": {"/hc/bad/start", "/hc/bad/fail", "/hc/bad/start", "/hc/bad/fail"},
	} {
		got := slices.DeleteFunc(slices.Clone(pings), func(p string) bool { return !strings.HasPrefix(p, "/hc/"+drill+"/") && p != "/hc/"+drill })
		if !slices.Equal(got, want) {
			t.Errorf("healthcheck pings of %s %q, want %q", drill, got, want)
		}
	}
	mu.Unlock()
	if strings.Contains(h.log.String(), "s3cr3t") {
		t.Error("the webhook's token reached the log")
	}
	start := time.Now()
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > alertGrace+time.Second {
		t.Errorf("Close took %s with a webhook that never answers, alertGrace %s", took, alertGrace)
	}

	// A pass while the agent is down (drill run without an agent), then
	// the agent starts again.
	store, err := openTestStore(h.loadConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	if _, err := store.Append(&record.Record{Drill: "ok", Service: "s", Backend: "fake", Host: "h", Verdict: record.VerdictPass,
		Started: now, Finished: now, Checks: []record.Check{}, Reasons: []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	before := len(events())
	h.open()
	waitFor(t, "the alert of the change made while down", func() bool { return len(events()) > before })
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	if got := events()[before:]; !slices.Equal(got, []string{"status_changed s stale>proven"}) {
		t.Errorf("alerts after the restart %q; want only status_changed s stale>proven", got)
	}
}

// Clients of history and export that stop reading hold nothing: a drill
// runs and is recorded meanwhile, and each stalled client is dropped
// after clientWriteTimeout, its response cut short.
func TestStalledClientsAreDropped(t *testing.T) {
	// Restored after the agent is closed (cleanups run last added first).
	t.Cleanup(func(d time.Duration) func() { return func() { clientWriteTimeout = d } }(clientWriteTimeout))
	clientWriteTimeout = 300 * time.Millisecond
	h := newHarness(t, "", `
  d: {service: s, backend: fake, source: {name: d}}
`)
	// Far more than a socket's buffers, in history and in the export.
	var recs []*record.Record
	for i := range 40 {
		b := make([]byte, 16<<10)
		_, _ = rand.Read(b)
		recs = append(recs, &record.Record{Drill: "old", Service: "s", Backend: "fake", Host: "h", Verdict: record.VerdictFail,
			Reasons: []string{fmt.Sprint(i), hex.EncodeToString(b)}, Started: epoch, Finished: epoch, Checks: []record.Check{}})
	}
	if _, err := h.a.store.AppendBatch(recs); err != nil {
		t.Fatal(err)
	}
	stall := func(path string) net.Conn {
		c, err := net.Dial("unix", h.a.cfg.Socket)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: drill\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	conns := map[string]net.Conn{"export": stall("/v1/export"), "history": stall("/v1/history")}
	res, err := h.client().Run(context.Background(), "d", nil)
	if err != nil || res.Record == nil || res.Record.LogIndex != 40 {
		t.Fatalf("a run while clients stall: %+v, %v; want it recorded", res, err)
	}
	// Once both responses started (the export is spooled first), the
	// agent's writes block; after clientWriteTimeout it drops them.
	for name, c := range conns {
		waitFor(t, name+" to start its response", func() bool { return queued(t, c) > 0 })
	}
	time.Sleep(clientWriteTimeout + 200*time.Millisecond)
	for name, c := range conns {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%s: read the response: %v", name, err)
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		switch {
		case err != nil && strings.Contains(err.Error(), "i/o timeout"):
			t.Errorf("%s: the agent still holds the stalled client after clientWriteTimeout", name)
		case err == nil && resp.Trailer.Get(ExportTrailer) == "":
			t.Errorf("%s: the stalled client got its whole response; want it dropped", name)
		}
	}
}

// queued is how many bytes c has received and not read.
func queued(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := raw.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}
