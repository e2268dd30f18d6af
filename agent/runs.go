package agent

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/record"
)

// Triggers: why a run was started.
const (
	triggerSchedule = "schedule"
	triggerCatchUp  = "catch-up"
	triggerDemand   = "demand"
)

var (
	// errBusy: the drill is already running or queued.
	errBusy = errors.New("already running or queued")
	// errStopping: the agent is shutting down and starts no drill.
	errStopping = errors.New("the agent is stopping")
)

// run is one run of a drill, from queued to recorded.
type run struct {
	drill   string
	trigger string
	queued  time.Time
	// ctx, for a run on demand, is the operator's request: when it ends,
	// the drill is interrupted.
	ctx context.Context

	mu       sync.Mutex
	started  time.Time
	progress drills.Progress
	changed  chan struct{} // closed and replaced on every change
	done     chan struct{} // closed when rec and err are set
	rec      *record.Record
	err      error
}

func newRun(drill, trigger string, ctx context.Context, now time.Time) *run {
	return &run{drill: drill, trigger: trigger, ctx: ctx, queued: now,
		changed: make(chan struct{}), done: make(chan struct{})}
}

// update records a change under r.mu and wakes the watchers.
func (r *run) update(f func()) {
	r.mu.Lock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// state returns what a watcher needs: when the run started (zero while
// queued), its latest progress and the channel closed on the next change.
func (r *run) state() (time.Time, drills.Progress, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started, r.progress, r.changed
}

// result is the "result" event of r, once done.
func (r *run) result() Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := Event{Type: "result", Record: r.rec}
	if r.err != nil {
		e.Error = r.err.Error()
	}
	return e
}

// queue holds the runs under way and waiting, and starts them, at most
// max at once, in the order they came.
type queue struct {
	mu       sync.Mutex
	max      int
	active   map[string]*run // running or queued, by drill
	waiting  []*run
	running  int
	stopping bool
	// start runs r in a goroutine of its own; when it returns, the queue
	// lets the drill run again (finish) and only then closes r.done, so
	// a client that has r's result can run the drill again at once.
	start func(r *run)
	wg    sync.WaitGroup
}

func newQueue(max int, start func(*run)) *queue {
	return &queue{max: max, active: map[string]*run{}, start: start}
}

// submit queues r. It refuses a drill already running or queued
// (errBusy) and any drill once the agent is stopping (errStopping).
// position is how many runs wait before r (0: it starts now).
func (q *queue) submit(r *run) (position int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping {
		return 0, errStopping
	}
	if _, ok := q.active[r.drill]; ok {
		return 0, errBusy
	}
	q.active[r.drill] = r
	q.waiting = append(q.waiting, r)
	position = len(q.waiting) - 1
	q.dispatchLocked()
	return position, nil
}

// dispatchLocked starts waiting runs while there is room.
func (q *queue) dispatchLocked() {
	for q.running < q.max && len(q.waiting) > 0 {
		r := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.running++
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			q.start(r)
			q.finish(r)
			close(r.done)
		}()
	}
}

func (q *queue) finish(r *run) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, r.drill)
	q.running--
	q.dispatchLocked()
}

// setMax changes how many runs may go at once (a reload).
func (q *queue) setMax(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.max = n
	q.dispatchLocked()
}

// stop refuses new runs and drops the waiting ones, which end with
// errStopping. Running ones go on until their context is cancelled.
func (q *queue) stop() {
	q.mu.Lock()
	q.stopping = true
	dropped := q.waiting
	q.waiting = nil
	for _, r := range dropped {
		delete(q.active, r.drill)
	}
	q.mu.Unlock()
	for _, r := range dropped {
		r.update(func() { r.err = errStopping })
		close(r.done)
	}
}

// wait waits for the running runs to end, or for ctx.
func (q *queue) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot returns the running runs and the waiting ones, in order.
func (q *queue) snapshot() (running, waiting []*run) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.active {
		if !slices.Contains(q.waiting, r) {
			running = append(running, r)
		}
	}
	slices.SortFunc(running, func(a, b *run) int { return a.queued.Compare(b.queued) })
	return running, slices.Clone(q.waiting)
}

// get returns the active run of drill, or nil.
func (q *queue) get(drill string) *run {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active[drill]
}
