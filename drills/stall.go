package drills

import (
	"context"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"sync"
	"time"

	"github.com/drillhq/drill/plugins"
)

// stallWatch stops a restore whose progress stands still: when neither
// the files nor the bytes a backend says it restored have changed, and no
// restored file was reported, for limit, it cancels the restore with a
// *stallError. Progress that repeats the same numbers is no progress:
// restic prints its status twice a second however stuck it is.
type stallWatch struct {
	backend string
	limit   time.Duration
	cancel  context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	// last is when the progress last changed (the restore's start at
	// first), on the monotonic clock.
	last         time.Time
	files, bytes int64 // the progress last reported
	done         bool  // stopped or fired
}

// stallError is the cause of a restore stopped by its stall watch.
type stallError struct {
	backend      string
	limit        time.Duration
	files, bytes int64 // the progress reported before it stood still
}

func (e *stallError) Error() string {
	at := "before it reported any progress"
	if e.files > 0 || e.bytes > 0 {
		var parts []string
		if e.files > 0 {
			parts = append(parts, fmt.Sprintf("%d files", e.files))
		}
		if e.bytes > 0 {
			parts = append(parts, human.Size(e.bytes))
		}
		at = "at " + joinAnd(parts)
	}
	return fmt.Sprintf("backend %s made no progress for %s (stall_timeout): the restore was stopped %s", e.backend, human.Duration(e.limit), at)
}

func joinAnd(parts []string) string {
	if len(parts) == 2 {
		return parts[0] + " and " + parts[1]
	}
	return parts[0]
}

// watchStall starts watching a restore that cancel stops; limit 0 watches
// nothing. Call stop when the restore returns.
//
// With fromFirst the watch starts at the backend's first event instead: a
// backend asked for its newest point (RestoreRequest.Newest) first finds
// it, which a drill that lists first does outside the restore, where no
// stall is watched for either.
func watchStall(backend string, limit time.Duration, cancel context.CancelCauseFunc, fromFirst bool) *stallWatch {
	w := &stallWatch{backend: backend, limit: limit, cancel: cancel, last: time.Now()}
	if limit > 0 && !fromFirst {
		w.timer = time.AfterFunc(limit, w.check)
	}
	return w
}

// start starts a watch that waits for the first event; w.mu is held.
func (w *stallWatch) start() {
	if w.timer == nil && w.limit > 0 && !w.done {
		w.last = time.Now()
		w.timer = time.AfterFunc(w.limit, w.check)
	}
}

// progress notes a Progress event: progress when its numbers differ from
// the last ones. Any change counts, down too: a backend may switch what
// it counts (the PostgreSQL backend counts the dump read, then the
// database's growth).
func (w *stallWatch) progress(p plugins.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start()
	if p.FilesDone != w.files || p.BytesDone != w.bytes {
		w.files, w.bytes = p.FilesDone, p.BytesDone
		w.last = time.Now()
	}
}

// restored notes that files were reported restored: progress.
func (w *stallWatch) restored() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start()
	w.last = time.Now()
}

// check runs when the timer fires: it stops the restore if nothing changed
// for limit, and otherwise looks again when limit will have passed since
// the last change.
func (w *stallWatch) check() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	if left := w.limit - time.Since(w.last); left > 0 {
		w.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	w.done = true
	cause := &stallError{backend: w.backend, limit: w.limit, files: w.files, bytes: w.bytes}
	w.mu.Unlock()
	w.cancel(cause)
}

// stop ends the watch; the restore is not cancelled after it returns.
func (w *stallWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
}
