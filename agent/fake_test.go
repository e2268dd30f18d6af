package agent

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// The agent's package tests run a real agent (evidence store, socket,
// runner, queue, alerts) on a fake clock and a fake backend: schedules
// are driven by moving the clock, never by waiting.

// epoch is when the tests' clock starts: a Monday, 02:00 UTC.
var epoch = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// fakeClock is a Clock moved by hand. Its timers fire in advance, each
// handing its time to its reader before advance returns, so that a test
// that then waits for the scheduler (harness.idle) sees what it did.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	at     time.Time
	active bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time), at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.at, t.active = t.c.now.Add(d), true
}

func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.active = false
}

// next is when the first active timer fires; false when none is set.
func (c *fakeClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, t := range c.timers {
		if t.active && (at.IsZero() || t.at.Before(at)) {
			at = t.at
		}
	}
	return at, !at.IsZero()
}

// set moves the clock to now and fires the timers due, each waiting for
// its reader (a second at most).
func (c *fakeClock) set(now time.Time) error {
	c.mu.Lock()
	c.now = now
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && !t.at.After(now) {
			t.active = false
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		select {
		case t.ch <- now:
		case <-time.After(time.Second):
			return fmt.Errorf("the timer that fired at %s was not read", now.Format(time.TimeOnly))
		}
	}
	return nil
}

// fakeBackend restores two small files into the scratch directory of
// every drill. A drill with a gate waits in its restore, after the files
// and a progress report, until the gate is closed or its context ends
// (stubborn: the gate only).
type fakeBackend struct {
	clock    *fakeClock
	mu       sync.Mutex
	gates    map[string]chan struct{}
	stubborn bool
	// restores are the drills whose restore started, in order.
	restores []string
	// held are the drills waiting at their gate.
	held map[string]bool
}

// gate makes drill's restores wait until the returned func is called.
func (f *fakeBackend) gate(drill string) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gates == nil {
		f.gates = map[string]chan struct{}{}
	}
	f.gates[drill] = ch
	return sync.OnceFunc(func() { close(ch) })
}

func (f *fakeBackend) started() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.restores)
}

func (f *fakeBackend) hold(drill string, held bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[string]bool{}
	}
	f.held[drill] = held
}

// holds reports whether drill waits at its gate.
func (f *fakeBackend) holds(drill string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held[drill]
}

func (f *fakeBackend) Launch(context.Context, string) (drills.Backend, error) { return f, nil }

func (f *fakeBackend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: "fake", Kind: plugins.KindFiles,
		SourceKeys: []plugins.SourceKey{{Name: "name", Type: plugins.TypeString}}}, nil
}

func (f *fakeBackend) ValidateSource(context.Context, *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	return &plugins.ValidateSourceResponse{}, nil
}

func (f *fakeBackend) ListRestorePoints(context.Context, *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	return &plugins.ListRestorePointsResponse{Points: []plugins.RestorePoint{{ID: "p1", Time: f.clock.Now().Add(-time.Hour)}}}, nil
}

func (f *fakeBackend) Restore(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	f.mu.Lock()
	f.restores = append(f.restores, req.DrillName)
	gate, stubborn := f.gates[req.DrillName], f.stubborn
	f.mu.Unlock()
	var files []plugins.File
	var n int64
	for _, name := range []string{"a.txt", "b.txt"} {
		body := []byte("restored " + name)
		if err := os.WriteFile(filepath.Join(req.Target, name), body, 0o600); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		files = append(files, plugins.File{Path: name, Size: int64(len(body)), SHA256: sum[:]})
		n += int64(len(body))
	}
	if err := ev.Files(files); err != nil {
		return nil, err
	}
	if gate != nil {
		_ = ev.Progress(plugins.Progress{FilesDone: 2, FilesTotal: 2, BytesDone: n, BytesTotal: n})
		done := ctx.Done()
		if stubborn {
			done = nil
		}
		f.hold(req.DrillName, true)
		defer f.hold(req.DrillName, false)
		select {
		case <-gate:
		case <-done:
			return nil, ctx.Err()
		}
	}
	return &plugins.RestoreResponse{Point: plugins.RestorePoint{ID: req.PointID, Time: f.clock.Now().Add(-time.Hour)},
		Files: int64(len(files)), Bytes: n}, nil
}

func (f *fakeBackend) Cleanup(context.Context, *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	return &plugins.CleanupResponse{}, nil
}

func (f *fakeBackend) Close() error { return nil }

// notes records what the agent tells systemd.
type notes struct {
	mu   sync.Mutex
	sent []string
}

func (n *notes) Notify(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, s)
}

func (n *notes) WatchdogInterval() time.Duration { return 0 }

func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// logLines collects the agent's log: slog writes a record per Write.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// harness is one agent's world: its config file and state in a
// temporary directory, the fake clock and backend, the notifications and
// the log.
type harness struct {
	t       *testing.T
	dir     string
	cfgPath string
	clock   *fakeClock
	backend *fakeBackend
	notes   *notes
	log     *logLines
	a       *Agent
}

// newHarness writes a config of drills (YAML lines under drills:) and
// extra top-level lines, with services s and s2, and opens the agent.
func newHarness(t *testing.T, extra, drillLines string) *harness {
	t.Helper()
	clock := &fakeClock{now: epoch}
	h := &harness{t: t, dir: t.TempDir(), clock: clock, backend: &fakeBackend{clock: clock}, notes: &notes{}, log: &logLines{}}
	h.cfgPath = filepath.Join(h.dir, "drill.yaml")
	h.writeConfig(extra, drillLines)
	h.open()
	return h
}

func (h *harness) writeConfig(extra, drillLines string) {
	h.t.Helper()
	cfg := fmt.Sprintf(`state_dir: %[1]s/state
socket: %[1]s/drill.sock
stop_timeout: 5s
%[2]s
services:
  s: {owner: ops@example.org}
  s2: {owner: dba@example.org}
drills:
%[3]s`, h.dir, extra, drillLines)
	if err := os.WriteFile(h.cfgPath, []byte(cfg), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// open opens the agent on the config file; it is closed when the test
// ends, if the test did not.
func (h *harness) open() {
	h.t.Helper()
	a, err := Open(context.Background(), h.loadConfig(), Options{
		Load:      config.Load,
		OpenStore: openTestStore,
		Launcher:  func(*config.Config) (drills.Launcher, error) { return h.backend, nil },
		Logger:    slog.New(slog.NewTextHandler(h.log, nil)),
		Version:   "test",
		Host:      "h",
		Notify:    h.notes,
		Clock:     h.clock,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.a = a
	h.t.Cleanup(func() {
		if h.a == a {
			_ = h.close()
		}
	})
}

// close closes the agent.
func (h *harness) close() error {
	h.t.Helper()
	a := h.a
	h.a = nil
	return a.Close(context.Background())
}

func openTestStore(cfg *config.Config) (*evidence.Store, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	key, err := keys.LoadOrCreate(filepath.Join(cfg.StateDir, "keys"), "drill.test/agent")
	if err != nil {
		return nil, err
	}
	return evidence.Open(filepath.Join(cfg.StateDir, "drill.db"), evidence.Options{Origin: "drill.test/agent", Key: key})
}

// idle waits until the scheduler sleeps: whatever the clock made due has
// been submitted.
func (h *harness) idle() {
	h.t.Helper()
	reply := make(chan struct{})
	select {
	case h.a.alive <- reply:
		<-reply
	case <-time.After(5 * time.Second):
		h.t.Fatal("the scheduler does not answer")
	}
}

// pass lets d of the fake clock's time pass, timer by timer, as it would
// pass in real time: every timer due on the way fires at its time, and
// drills take no time unless held at their gate.
func (h *harness) pass(d time.Duration) {
	h.t.Helper()
	end := h.clock.Now().Add(d)
	for {
		h.idle()
		h.quiet()
		at, ok := h.clock.next()
		if !ok || at.After(end) {
			break
		}
		if err := h.clock.set(at); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.clock.set(end); err != nil {
		h.t.Fatal(err)
	}
	h.idle()
	h.quiet()
}

// quiet waits (in real time) until every running drill is held at its
// gate.
func (h *harness) quiet() {
	h.t.Helper()
	waitFor(h.t, "the running drills to finish or reach their gate", func() bool {
		running, _ := h.running()
		for _, d := range running {
			if !h.backend.holds(d) {
				return false
			}
		}
		return true
	})
}

// jump moves the clock by d at once, as a host that was suspended sees
// it.
func (h *harness) jump(d time.Duration) {
	h.t.Helper()
	h.idle()
	if err := h.clock.set(h.clock.Now().Add(d)); err != nil {
		h.t.Fatal(err)
	}
	h.idle()
}

// records returns the records of drill in the evidence log, oldest first.
func (h *harness) records(drill string) []*record.Record {
	h.t.Helper()
	var out []*record.Record
	err := h.a.store.Entries(func(e *evidence.Entry) error {
		if e.Record.Drill == drill {
			out = append(out, e.Record)
		}
		return nil
	}, false)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// running returns the drills running and waiting, in order.
func (h *harness) running() (running, waiting []string) {
	r, w := h.a.queue.snapshot()
	for _, x := range r {
		running = append(running, x.drill)
	}
	for _, x := range w {
		waiting = append(waiting, x.drill)
	}
	return running, waiting
}

// settle waits (in real time) until no drill runs
// or waits.
func (h *harness) settle() {
	h.t.Helper()
	waitFor(h.t, "the drills to finish", func() bool {
		r, w := h.running()
		return len(r) == 0 && len(w) == 0
	})
}

// waitRestoring waits until drill is in its restore.
func (h *harness) waitRestoring(drill string) {
	h.t.Helper()
	waitFor(h.t, drill+" to restore", func() bool { return slices.Contains(h.backend.started(), drill) })
}

// waitFor polls cond every millisecond, for 10 s at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// starts returns the (drill, trigger) of every "drill started" log line.
func (h *harness) starts() []string {
	var out []string
	for _, l := range strings.Split(h.log.String(), "\n") {
		if strings.Contains(l, `msg="drill started"`) {
			f := strings.Fields(l)
			var drill, trigger string
			for _, kv := range f {
				if v, ok := strings.CutPrefix(kv, "drill="); ok {
					drill = v
				}
				if v, ok := strings.CutPrefix(kv, "trigger="); ok {
					trigger = v
				}
			}
			out = append(out, drill+" "+trigger)
		}
	}
	return out
}

// client dials the agent's socket.
func (h *harness) client() *Client {
	h.t.Helper()
	c, _, err := Dial(context.Background(), h.a.cfg.Socket)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// health is the agent's health, through its socket.
func (h *harness) health() Health {
	h.t.Helper()
	_, hl, err := Dial(context.Background(), h.a.cfg.Socket)
	if err != nil {
		h.t.Fatal(err)
	}
	return *hl
}

func (h *harness) loadConfig() *config.Config {
	h.t.Helper()
	cfg, err := config.Load(h.cfgPath)
	if err != nil {
		h.t.Fatal(err)
	}
	return cfg
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// metric is the value of the series (name{labels} as exposed) in the
// agent's metrics, "" when it is not there.
func (h *harness) metric(series string) string {
	rec := httptest.NewRecorder()
	h.a.metrics.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}
