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
	// Reload receives a value for each request to reload the config
	// (SIGHUP).
	Reload <-chan struct{}
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Agent is the drill daemon. Run it once.
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
}

// New returns an agent for the valid config cfg.
func New(cfg *config.Config, opt Options) *Agent {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	log := opt.Logger
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Notify == nil {
		opt.Notify = noNotifier{}
	}
	return &Agent{opt: opt, log: log.With("component", "agent"), cfg: cfg,
		last: map[string]*record.Record{}, lastPass: map[string]*record.Record{}, wake: make(chan struct{}, 1), alive: make(chan chan struct{})}
}

// ErrStart wraps the errors that keep the agent from starting.
var ErrStart = errors.New("agent not started")

// Run starts the agent and serves until ctx ends, then stops: no new
// drills, running ones cancelled and recorded as interrupted (waiting at
// most stop_timeout), and returns nil. An error means the agent could not
// start, and wraps ErrStart.
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.opt.Now()
	cfg := a.cfg
	store, err := a.opt.OpenStore(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer store.Close()
	a.store = store
	if a.launcher, err = a.opt.Launcher(cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	a.drillCtx, a.stopDrills = context.WithCancelCause(context.WithoutCancel(ctx))
	defer a.stopDrills(nil)
	if err := a.recover(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	if err := a.loadLast(); err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	a.metrics = newMetrics(a.opt.Version, a.position)
	a.queue = newQueue(cfg.MaxConcurrent, a.execute)
	alertCtx, stopAlerts := context.WithCancel(context.WithoutCancel(ctx))
	a.alerts = newAlerter(alertCtx, a.log.With("component", "alerts"))
	// What is queued gets a few seconds more at the end.
	defer a.alerts.close(5*time.Second, stopAlerts)

	ln, err := listen(cfg.Socket, cfg.SocketGroup)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStart, err)
	}
	api := &http.Server{Handler: a.api(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		if err := api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("control API stopped", "socket", cfg.Socket, "err", err)
		}
	}()
	defer func() {
		// Let the streams of runs on demand deliver their results.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Shutdown(sctx)
		_ = api.Close()
		<-apiDone
		_ = os.Remove(cfg.Socket)
	}()
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("%w: metrics_listen %s: %w", ErrStart, cfg.MetricsListen, err)
		}
		ms := &http.Server{Handler: a.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(mln) }() // http.ErrServerClosed once ms.Close runs
		defer ms.Close()
	}

	a.mu.Lock()
	a.applyLocked(cfg)
	a.mu.Unlock()
	a.checkPosition(nil)
	a.catchUp()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		a.schedule(ctx)
	}()
	watchDone := make(chan struct{})
	wctx, stopWatch := context.WithCancel(ctx)
	go func() {
		defer close(watchDone)
		a.watchdog(wctx)
	}()
	a.log.Info("agent started", "config", cfg.Path, "socket", cfg.Socket, "drills", len(cfg.Drills),
		"scheduled", len(a.timings), "metrics", cfg.MetricsListen, "version", a.opt.Version)
	a.opt.Notify.Notify("READY=1\nSTATUS=" + a.status())

	for {
		select {
		case <-ctx.Done():
			stopWatch()
			<-watchDone
			<-schedDone
			a.shutdown()
			return nil
		case <-a.opt.Reload:
			a.reload()
		}
	}
}

// recover does drills' start-up recovery (Runner.Recover) with the
// agent's config and launcher.
func (a *Agent) recover(ctx context.Context) error {
	_, err := a.runner(a.cfg, a.launcher, nil).Recover(ctx)
	return err
}

// loadLast reads the newest record and the newest pass of every drill,
// reading the log from its end only as far as needed.
func (a *Agent) loadLast() error {
	errEnough := errors.New("enough")
	want := 2 * len(a.cfg.Drills)
	err := a.store.Entries(func(e *evidence.Entry) error {
		r := e.Record
		_, inConfig := a.cfg.Drills[r.Drill]
		if _, ok := a.last[r.Drill]; !ok {
			a.last[r.Drill] = r
			if inConfig {
				want--
			}
		}
		if _, ok := a.lastPass[r.Drill]; !ok && r.Verdict == record.VerdictPass {
			a.lastPass[r.Drill] = r
			if inConfig {
				want--
			}
		}
		if want <= 0 {
			return errEnough
		}
		return nil
	}, true)
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("read the last records: %w", err)
	}
	return nil
}

// runner returns a Runner over the agent's store for one run.
func (a *Agent) runner(cfg *config.Config, l drills.Launcher, progress func(drills.Progress)) *drills.Runner {
	return &drills.Runner{
		Config: cfg, Launcher: l, Recorder: a.store, Scratch: a.store, Marks: a.store,
		ScratchRoot: drills.ScratchRoot(cfg.StateDir), Logger: a.opt.Logger.With("component", "drills"),
		Host: a.opt.Host, Version: a.opt.Version, Now: a.opt.Now, Progress: progress,
	}
}

// applyLocked makes cfg the agent's config: its drills' timings and next
// runs, from now.
func (a *Agent) applyLocked(cfg *config.Config) {
	a.cfg = cfg
	now := a.opt.Now()
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
	now := a.opt.Now()
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
	timer := time.NewTimer(maxSleep)
	defer timer.Stop()
	for {
		a.mu.Lock()
		now := a.opt.Now()
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
		change := a.nextStatusChangeLocked(now)
		a.mu.Unlock()
		slices.Sort(due)
		for _, name := range due {
			_, _, _ = a.submit(name, triggerSchedule, nil) // a run skipped as busy is logged and counted there; none starts while stopping
		}
		// A claim goes stale with time alone: look again when one may.
		a.checkPosition(nil)
		if !change.IsZero() {
			sleep = min(sleep, change.Sub(now))
		}
		timer.Reset(max(sleep, 0))
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
		case reply := <-a.alive:
			close(reply)
		}
	}
}

// submit queues a run of drill. A scheduled run of a drill still running
// or queued is skipped, counted and logged.
func (a *Agent) submit(drill, trigger string, ctx context.Context) (*run, int, error) {
	r := newRun(drill, trigger, ctx, a.opt.Now())
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
		close(r.done)
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
	r.update(func() { r.started = a.opt.Now() })
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
	close(r.done)
	a.opt.Notify.Notify("STATUS=" + a.status())
}

// reload loads the config file again and applies it; a config with
// problems is refused and the one in force stays.
func (a *Agent) reload() {
	a.mu.Lock()
	old := a.cfg
	a.mu.Unlock()
	a.opt.Notify.Notify(reloadingNotice(a.opt.Now()))
	defer a.opt.Notify.Notify("READY=1\nSTATUS=" + a.status())
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
	a.mu.Lock()
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
// are cancelled and get stop_timeout to record themselves.
func (a *Agent) shutdown() {
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := a.queue.wait(ctx); err != nil {
		still, _ := a.queue.snapshot()
		names := make([]string, len(still))
		for i, r := range still {
			names[i] = r.drill
		}
		a.log.Error("agent stopped with drills still running after stop_timeout; they are recorded as interrupted at the next start", "drills", names, "stop_timeout", timeout.String())
		return
	}
	a.log.Info("agent stopped")
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
	return drills.Position(a.cfg, recs, a.opt.Now())
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
