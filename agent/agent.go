package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// maxSleep bounds how long the scheduler sleeps, so that it follows a
// change of the wall clock (a suspended VM, an NTP step) within minutes.
// Between drills the agent wakes at most this often.
const maxSleep = 10 * time.Minute

// Options wire an Agent to the rest of drill.
type Options struct {
	// Load loads the config file at path (config.Load), for reloads.
	Load func(path string) (*config.Config, error)
	// OpenStore opens cfg's evidence store for writing.
	OpenStore func(cfg *config.Config) (*evidence.Store, error)
	// Launcher returns the plugin launcher for cfg.
	Launcher func(cfg *config.Config) (drills.Launcher, error)
	// Logger gets the agent's log lines; discarded when nil.
	Logger *slog.Logger
	// Version is drill's version, for records, health and metrics.
	Version string
	// Host names this host in records and jitter offsets.
	Host string
	// Notify tells the service manager how the agent is doing; nil when
	// not under systemd.
	Notify Notifier
	// Clock is the time of schedules and records; the system's when nil.
	Clock Clock
}

// Agent is the drill daemon, from Open to Close.
type Agent struct {
	opt Options
	log *slog.Logger

	mu        sync.Mutex
	cfg       *config.Config
	launcher  drills.Launcher
	timings   map[string]timing
	next      map[string]time.Time
	last      map[string]*record.Record
	lastPass  map[string]*record.Record
	reloadErr error
	started   time.Time
	// statuses are the services' statuses last seen, for alerts on change.
	statuses map[string]string
	alerts   *alerter

	store      *evidence.Store
	queue      *queue
	metrics    *metrics
	drillCtx   context.Context
	stopDrills context.CancelCauseFunc
	// wake tells the scheduler that the schedule changed; alive asks it
	// to answer (the watchdog's check that it is not stuck).
	wake  chan struct{}
	alive chan chan struct{}
	// stopLoops ends the scheduler and the watchdog; loops waits for them.
	stopLoops context.CancelFunc
	loops     sync.WaitGroup
	// closers close what Open opened, last opened first.
	closers []func()
}

// ErrStart wraps the errors that keep the agent from starting.
var ErrStart = errors.New("agent not started")

// Open starts the agent for the valid config cfg: it opens the evidence
// store and the plugin launcher, does drills' start-up recovery
// (Runner.Recover: what an agent killed before left), serves the control
// API on the socket and metrics on metrics_listen, runs once the drills
// that missed a run while no agent ran (catch_up), and starts the
// scheduler. It serves until Close. ctx bounds the start only.
//
// An error means the agent could not start: it wraps ErrStart, and what
// was opened is closed again.
func Open(ctx context.Context, cfg *config.Config, opt Options) (*Agent, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	if opt.Notify == nil {
		opt.Notify = noNotifier{}
	}
	a := &Agent{opt: opt, log: opt.Logger.With("component", "agent"), cfg: cfg, started: opt.Clock.Now(),
		last: map[string]*record.Record{}, lastPass: map[string]*record.Record{},
		wake: make(chan struct{}, 1), alive: make(chan chan struct{})}
	a.drillCtx, a.stopDrills = context.WithCancelCause(context.Background())
	if err := a.open(ctx); err != nil {
		a.closeAll()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	a.start()
	return a, nil
}

// open opens what the agent holds, each with its closer.
func (a *Agent) open(ctx context.Context) error {
	cfg := a.cfg
	store, err := a.opt.OpenStore(cfg)
	if err != nil {
		return err
	}
	a.store = store
	a.onClose(func() { _ = store.Close() })
	a.onClose(func() { a.stopDrills(nil) })
	if a.launcher, err = a.opt.Launcher(cfg); err != nil {
		return err
	}
	if _, err := a.runner(cfg, a.launcher, nil).Recover(ctx); err != nil {
		return err
	}
	if err := a.loadLast(); err != nil {
		return err
	}
	a.metrics = newMetrics(a.opt.Version, a.position)
	a.queue = newQueue(cfg.MaxConcurrent, a.execute)
	alertCtx, stopAlerts := context.WithCancel(context.Background())
	a.alerts = newAlerter(alertCtx, a.log.With("component", "alerts"))
	a.onClose(func() { a.alerts.close(alertGrace, stopAlerts) })
	if err := a.serveAPI(); err != nil {
		return err
	}
	return a.serveMetrics()
}

// onClose adds f to what Close (or a failed Open) runs, before the
// closers added earlier.
func (a *Agent) onClose(f func()) { a.closers = append(a.closers, f) }

// closeAll runs the closers, last added first.
func (a *Agent) closeAll() {
	for _, f := range slices.Backward(a.closers) {
		f()
	}
	a.closers = nil
}

// serveAPI serves the control API on the socket.
func (a *Agent) serveAPI() error {
	path := a.cfg.Socket
	ln, err := listen(path, a.cfg.SocketGroup)
	if err != nil {
		return err
	}
	api := &http.Server{Handler: a.api(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("control API stopped", "socket", path, "err", err)
		}
	}()
	a.onClose(func() {
		// Let the streams of runs on demand deliver their results.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Shutdown(ctx)
		_ = api.Close()
		<-done
		_ = os.Remove(path)
	})
	return nil
}

// serveMetrics serves the metrics on metrics_listen, when it is set.
func (a *Agent) serveMetrics() error {
	addr := a.cfg.MetricsListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	ms := &http.Server{Handler: a.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ms.Serve(ln) }() // http.ErrServerClosed once ms.Close runs
	a.onClose(func() { _ = ms.Close() })
	return nil
}

// start schedules the drills, runs the ones to catch up, starts the
// scheduler and the watchdog, and tells systemd the agent is ready.
func (a *Agent) start() {
	cfg := a.cfg
	a.mu.Lock()
	a.applyLocked(cfg)
	a.mu.Unlock()
	a.checkPosition(nil)
	a.catchUp()
	ctx, stop := context.WithCancel(context.Background())
	a.stopLoops = stop
	a.loops.Add(2)
	go func() {
		defer a.loops.Done()
		a.schedule(ctx)
	}()
	go func() {
		defer a.loops.Done()
		a.watchdog(ctx)
	}()
	a.log.Info("agent started", "config", cfg.Path, "socket", cfg.Socket, "drills", len(cfg.Drills),
		"scheduled", len(a.timings), "metrics", cfg.MetricsListen, "version", a.opt.Version)
	a.opt.Notify.Notify("READY=1\nSTATUS=" + a.status())
}

// Close stops the agent: the scheduler ends, nothing new starts, running
// drills are cancelled and get stop_timeout (or until ctx ends) to record
// themselves as interrupted; then the control API (after the streams of
// runs on demand got their results), the metrics and the evidence store
// are closed and the socket removed. The error says which drills were
// still running at the end (the log says it too); they are recorded as
// interrupted at the next start. Close once, and not while Reload runs.
func (a *Agent) Close(ctx context.Context) error {
	a.stopLoops()
	a.loops.Wait()
	err := a.shutdown(ctx)
	a.closeAll()
	return err
}

// loadLast reads the newest record and the newest pass of every drill of
// the config (lastRecords).
func (a *Agent) loadLast() error {
	last, pass, err := a.lastRecords(a.cfg.DrillNames())
	if err != nil {
		return err
	}
	a.mergeLastLocked(last, pass)
	return nil
}

// mergeLastLocked takes the records of last and pass that are newer than
// the agent's (a drill may have run since they were read).
func (a *Agent) mergeLastLocked(last, pass map[string]*record.Record) {
	for _, m := range []struct{ from, to map[string]*record.Record }{{last, a.last}, {pass, a.lastPass}} {
		for name, r := range m.from {
			if cur := m.to[name]; cur == nil || r.LogIndex > cur.LogIndex {
				m.to[name] = r
			}
		}
	}
}

// lastRecords reads the newest record and the newest pass of each drill
// of names: through the store's index, two records a drill; from the
// log's end when the index does not cover the log (a damaged store).
func (a *Agent) lastRecords(names []string) (last, pass map[string]*record.Record, err error) {
	var want []int64
	for _, name := range names {
		l, p := int64(-1), int64(-1)
		err = a.store.DrillIndex(name, func(e evidence.IndexEntry) bool {
			if l < 0 {
				l = e.Index
			}
			if e.Verdict == record.VerdictPass {
				p = e.Index
			}
			return p < 0
		})
		if err != nil {
			break
		}
		want = append(want, l, p)
	}
	if errors.Is(err, evidence.ErrNotIndexed) {
		return a.lastFromLog(names)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the last records: %w", err)
	}
	want = slices.DeleteFunc(want, func(i int64) bool { return i < 0 })
	slices.Sort(want)
	recs, err := a.store.Records(slices.Compact(want))
	if err != nil {
		return nil, nil, fmt.Errorf("read the last records: %w", err)
	}
	last, pass = map[string]*record.Record{}, map[string]*record.Record{}
	for _, r := range recs {
		if cur := last[r.Drill]; cur == nil || r.LogIndex > cur.LogIndex {
			last[r.Drill] = r
		}
		if cur := pass[r.Drill]; r.Verdict == record.VerdictPass && (cur == nil || r.LogIndex > cur.LogIndex) {
			pass[r.Drill] = r
		}
	}
	return last, pass, nil
}

// lastFromLog is lastRecords reading the log from its end, as far as
// needed (it keeps the records of other drills it reads on the way).
func (a *Agent) lastFromLog(names []string) (last, pass map[string]*record.Record, err error) {
	errEnough := errors.New("enough")
	last, pass = map[string]*record.Record{}, map[string]*record.Record{}
	want := 2 * len(names)
	err = a.store.Entries(func(e *evidence.Entry) error {
		r := e.Record
		wanted := slices.Contains(names, r.Drill)
		if _, ok := last[r.Drill]; !ok {
			last[r.Drill] = r
			if wanted {
				want--
			}
		}
		if _, ok := pass[r.Drill]; !ok && r.Verdict == record.VerdictPass {
			pass[r.Drill] = r
			if wanted {
				want--
			}
		}
		if want <= 0 {
			return errEnough
		}
		return nil
	}, true)
	if err != nil && !errors.Is(err, errEnough) {
		return nil, nil, fmt.Errorf("read the last records: %w", err)
	}
	return last, pass, nil
}

// runner returns a Runner over the agent's store for one run.
func (a *Agent) runner(cfg *config.Config, l drills.Launcher, progress func(drills.Progress)) *drills.Runner {
	return &drills.Runner{
		Config: cfg, Launcher: l, Recorder: a.store, Scratch: a.store, Marks: a.store,
		ScratchRoot: drills.ScratchRoot(cfg.StateDir), Logger: a.opt.Logger.With("component", "drills"),
		Host: a.opt.Host, Version: a.opt.Version, Now: a.opt.Clock.Now, Progress: progress,
	}
}

// applyLocked makes cfg the agent's config: its drills' timings and next
// runs, from now.
func (a *Agent) applyLocked(cfg *config.Config) {
	a.cfg = cfg
	now := a.opt.Clock.Now()
	a.timings = map[string]timing{}
	a.next = map[string]time.Time{}
	for name, d := range cfg.Drills {
		t, ok := newTiming(d, a.opt.Host)
		if !ok {
			continue
		}
		a.timings[name] = t
		if n := t.next(now); !n.IsZero() {
			a.next[name] = n
		}
	}
	if a.metrics != nil {
		a.metrics.setDrills(cfg, a.timings, a.last, a.lastPass, now)
	}
}

// catchUp runs once the drills that missed a run while the agent was
// down.
func (a *Agent) catchUp() {
	a.mu.Lock()
	now := a.opt.Clock.Now()
	var due []string
	for _, name := range a.cfg.DrillNames() {
		t, ok := a.timings[name]
		last := a.last[name]
		if !ok || !a.cfg.Drills[name].CatchUp || last == nil {
			continue
		}
		if t.missed(last.Started, now) {
			due = append(due, name)
		}
	}
	a.mu.Unlock()
	for _, name := range due {
		a.log.Info("drill missed a run while the agent was down; running it now", "drill", name)
		_, _, _ = a.submit(name, triggerCatchUp, nil) // a run skipped as busy is logged and counted there; none starts while stopping
	}
}

// schedule starts scheduled runs when they are due, until ctx ends.
func (a *Agent) schedule(ctx context.Context) {
	timer := a.opt.Clock.NewTimer(maxSleep)
	defer timer.Stop()
	for {
		due, sleep := a.due()
		for _, name := range due {
			_, _, _ = a.submit(name, triggerSchedule, nil) // a run skipped as busy is logged and counted there; none starts while stopping
		}
		// A claim goes stale with time alone: look again when one may.
		a.checkPosition(nil)
		timer.Reset(max(sleep, 0))
		if !a.sleep(ctx, timer) {
			return
		}
	}
}

// due returns the drills due now, in name order, their next runs moved
// on, and how long to sleep until the next run or the next change of a
// service's status with time alone (at most maxSleep).
func (a *Agent) due() ([]string, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.opt.Clock.Now()
	var due []string
	sleep := maxSleep
	for name, n := range a.next {
		if !n.After(now) {
			due = append(due, name)
			nn := a.timings[name].next(now)
			a.metrics.setNext(name, nn)
			if nn.IsZero() {
				delete(a.next, name)
				continue
			}
			a.next[name] = nn
			n = nn
		}
		sleep = min(sleep, n.Sub(now))
	}
	if change := a.nextStatusChangeLocked(now); !change.IsZero() {
		sleep = min(sleep, change.Sub(now))
	}
	slices.Sort(due)
	return due, sleep
}

// sleep waits for timer or a change of the schedule (true) or for ctx
// (false), answering the watchdog meanwhile.
func (a *Agent) sleep(ctx context.Context, timer Timer) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.wake:
			return true
		case <-timer.C():
			return true
		case reply := <-a.alive:
			close(reply)
		}
	}
}

// submit queues a run of drill. A scheduled run of a drill still running
// or queued is skipped, counted and logged.
func (a *Agent) submit(drill, trigger string, ctx context.Context) (*run, int, error) {
	r := newRun(drill, trigger, ctx, a.opt.Clock.Now())
	pos, err := a.queue.submit(r)
	if errors.Is(err, errBusy) && trigger != triggerDemand {
		a.metrics.skipped(drill)
		a.log.Warn("scheduled run skipped: the drill's previous run has not finished", "drill", drill, "trigger", trigger)
	}
	if err != nil {
		return nil, 0, err
	}
	a.opt.Notify.Notify("STATUS=" + a.status())
	return r, pos, nil
}

// execute carries out run r (called by the queue).
func (a *Agent) execute(r *run) {
	if r.ctx != nil && r.ctx.Err() != nil {
		// Asked for on demand, and the asker left while it waited: no
		// drill, no record.
		r.update(func() { r.err = errors.New("the drill run command that asked for it went away before it started") })
		return
	}
	a.mu.Lock()
	cfg, l := a.cfg, a.launcher
	a.mu.Unlock()
	rn := a.runner(cfg, l, func(p drills.Progress) { r.update(func() { r.progress = p }) })
	ctx, cancel := context.WithCancelCause(a.drillCtx)
	defer cancel(nil)
	if r.ctx != nil {
		stop := context.AfterFunc(r.ctx, func() {
			cancel(errors.New("the drill run command that asked for it went away"))
		})
		defer stop()
	}
	r.update(func() { r.started = a.opt.Clock.Now() })
	a.opt.Notify.Notify("STATUS=" + a.status())
	a.log.Info("drill started", "drill", r.drill, "trigger", r.trigger)
	var ping string
	if d := cfg.Drills[r.drill]; d != nil {
		ping = d.Healthcheck
	}
	a.alerts.ping(ping, "/start")
	rec, err := rn.Run(ctx, r.drill)
	if rec != nil && rec.Verdict == record.VerdictPass {
		a.alerts.ping(ping, "")
	} else {
		a.alerts.ping(ping, "/fail")
	}
	if err != nil {
		a.log.Error("drill result not recorded", "drill", r.drill, "err", err)
	}
	if rec != nil && err == nil {
		a.mu.Lock()
		a.last[r.drill] = rec
		if rec.Verdict == record.VerdictPass {
			a.lastPass[r.drill] = rec
		}
		a.mu.Unlock()
		a.metrics.observe(rec)
		a.checkPosition(rec)
	}
	r.update(func() { r.rec, r.err = rec, err })
	a.opt.Notify.Notify("STATUS=" + a.status())
}

// Reload loads the config file again and applies it (SIGHUP); a config
// with problems is refused, the one in force stays, and health and the
// log say why. Keys set up at start (state_dir, socket, socket_group,
// metrics_listen) keep their values until a restart.
func (a *Agent) Reload() {
	a.mu.Lock()
	old := a.cfg
	a.mu.Unlock()
	a.opt.Notify.Notify(reloadingNotice(a.opt.Clock.Now()))
	// The status once the reload is done, refused or not.
	defer func() { a.opt.Notify.Notify("READY=1\nSTATUS=" + a.status()) }()
	cfg, err := a.opt.Load(old.Path)
	if err == nil {
		var l drills.Launcher
		if l, err = a.opt.Launcher(cfg); err == nil {
			a.apply(old, cfg, l)
			a.log.Info("config reloaded", "config", cfg.Path, "drills", len(cfg.Drills))
			return
		}
	}
	a.mu.Lock()
	a.reloadErr = err
	a.mu.Unlock()
	var ce config.Errors
	if errors.As(err, &ce) {
		for _, e := range ce {
			a.log.Error("config reload refused; the previous config stays in force", "problem", e.Error())
		}
		return
	}
	a.log.Error("config reload refused; the previous config stays in force", "err", err)
}

// apply switches to cfg. Keys the agent set up at start keep their old
// values until a restart.
func (a *Agent) apply(old, cfg *config.Config, l drills.Launcher) {
	for _, k := range []struct {
		key      string
		was, now *string
	}{
		{"state_dir", &old.StateDir, &cfg.StateDir},
		{"socket", &old.Socket, &cfg.Socket},
		{"socket_group", &old.SocketGroup, &cfg.SocketGroup},
		{"metrics_listen", &old.MetricsListen, &cfg.MetricsListen},
	} {
		if *k.was != *k.now {
			a.log.Warn("config key changed; it takes effect when the agent restarts", "key", k.key, "in_force", *k.was, "new", *k.now)
			*k.now = *k.was
		}
	}
	// The drills cfg adds start with their newest record and pass, as
	// they would after a restart (an error leaves them without: the log
	// is damaged, which Verify reports).
	var added []string
	for _, name := range cfg.DrillNames() {
		if old.Drills[name] == nil {
			added = append(added, name)
		}
	}
	last, pass, err := a.lastRecords(added)
	if err != nil {
		a.log.Error("config reload: the last records of the drills added could not be read", "err", err)
	}
	a.mu.Lock()
	a.mergeLastLocked(last, pass)
	a.launcher = l
	a.reloadErr = nil
	a.applyLocked(cfg)
	a.mu.Unlock()
	a.queue.setMax(cfg.MaxConcurrent)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// shutdown stops the agent's drills: nothing new starts, running drills
// are cancelled and get stop_timeout (at most until ctx ends) to record
// themselves.
func (a *Agent) shutdown(ctx context.Context) error {
	a.opt.Notify.Notify("STOPPING=1\nSTATUS=stopping: cancelling running drills")
	running, _ := a.queue.snapshot()
	a.queue.stop()
	a.stopDrills(errors.New("the agent is stopping"))
	a.mu.Lock()
	timeout := a.cfg.StopTimeout
	a.mu.Unlock()
	if len(running) > 0 {
		a.log.Info("agent stopping: running drills cancelled", "drills", len(running), "stop_timeout", timeout.String())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := a.queue.wait(ctx); err != nil {
		still, _ := a.queue.snapshot()
		names := make([]string, len(still))
		for i, r := range still {
			names[i] = r.drill
		}
		a.log.Error("agent stopped with drills still running after stop_timeout; they are recorded as interrupted at the next start", "drills", names, "stop_timeout", timeout.String())
		return fmt.Errorf("drills still running after stop_timeout %s: %s", timeout, strings.Join(names, ", "))
	}
	a.log.Info("agent stopped")
	return nil
}

// status is the one-line STATUS= text for systemd.
func (a *Agent) status() string {
	running, waiting := a.queue.snapshot()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := fmt.Sprintf("%d drills, %d scheduled", len(a.cfg.Drills), len(a.timings))
	if len(running) > 0 {
		s += "; running:"
		for _, r := range running {
			s += " " + r.drill
		}
	}
	if len(waiting) > 0 {
		s += fmt.Sprintf("; %d waiting", len(waiting))
	}
	if a.reloadErr != nil {
		s += "; last reload refused (see the log)"
	}
	return s
}

// position is the recovery position as the agent knows it now: from each
// drill's newest record and newest pass, which is all a status needs.
func (a *Agent) position() []drills.ServicePosition {
	a.mu.Lock()
	defer a.mu.Unlock()
	var recs []*record.Record
	for name, r := range a.last {
		recs = append(recs, r)
		if p := a.lastPass[name]; p != nil && p != r {
			recs = append(recs, p)
		}
	}
	return drills.Position(a.cfg, recs, a.opt.Clock.Now())
}

// nextStatusChangeLocked is the first time after now at which a drill's
// last pass leaves its service's review_every; zero when none will.
func (a *Agent) nextStatusChangeLocked(now time.Time) time.Time {
	var next time.Time
	for name, p := range a.lastPass {
		d := a.cfg.Drills[name]
		if d == nil {
			continue
		}
		svc := a.cfg.Services[d.Service]
		if svc == nil || svc.ReviewEvery <= 0 {
			continue
		}
		// One second after the window ends, so the status has changed.
		t := p.Finished.Add(svc.ReviewEvery + time.Second)
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}
