package agent

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// The queue runs at most max at once, in the order submitted, refuses a
// drill already active, and on stop drops what waits.
func TestQueue(t *testing.T) {
	var mu sync.Mutex
	var order []string
	running, peak := 0, 0
	release := make(chan struct{})
	q := newQueue(2, func(r *run) {
		mu.Lock()
		order = append(order, r.drill)
		running++
		peak = max(peak, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
	})
	now := time.Now()
	var runs []*run
	for i, name := range []string{"a", "b", "c", "d"} {
		r := newRun(name, triggerSchedule, nil, now)
		pos, err := q.submit(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := max(i-2, 0); pos != want {
			t.Errorf("%s: position %d, want %d", name, pos, want)
		}
		runs = append(runs, r)
	}
	if _, err := q.submit(newRun("c", triggerDemand, nil, now)); !errors.Is(err, errBusy) {
		t.Errorf("a waiting drill submitted again: %v", err)
	}
	if _, err := q.submit(newRun("a", triggerDemand, nil, now)); !errors.Is(err, errBusy) {
		t.Errorf("a running drill submitted again: %v", err)
	}
	waitRunning := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			r := running
			mu.Unlock()
			if r == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d running, want %d", r, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitRunning(2)
	release <- struct{}{} // a or b ends
	select {
	case <-runs[0].done:
	case <-runs[1].done:
	}
	// c starts in its place; d still waits.
	waitRunning(2)
	if _, waiting := q.snapshot(); len(waiting) != 1 || waiting[0].drill != "d" {
		t.Errorf("waiting %v, want d", waiting)
	}
	q.stop()
	select {
	case <-runs[3].done:
		if !errors.Is(runs[3].err, errStopping) {
			t.Errorf("dropped run: %v", runs[3].err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting run was not dropped")
	}
	if _, err := q.submit(newRun("e", triggerDemand, nil, now)); !errors.Is(err, errStopping) {
		t.Errorf("submit after stop: %v", err)
	}
	close(release)
	if err := q.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != 2 {
		t.Errorf("%d ran at once, want 2", peak)
	}
	// c took the first free place, before d; d was dropped by stop.
	slices.Sort(order)
	if !slices.Equal(order, []string{"a", "b", "c"}) {
		t.Errorf("started %v, want a, b and c", order)
	}
}

// TestRunAgainOnceDone: a client that has a run's result (r.done is
// closed) can run the drill again at once; it is never told that the
// drill it just saw end is still running.
func TestRunAgainOnceDone(t *testing.T) {
	q := newQueue(1, func(*run) {})
	for i := range 200 {
		r := newRun("a", triggerDemand, nil, time.Now())
		if _, err := q.submit(r); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		<-r.done
	}
}
