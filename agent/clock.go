package agent

import "time"

// Clock is the agent's time: what time it is, and the timer the
// scheduler sleeps on. Records, schedules, catch-up and the staleness of
// a service's status all follow it; tests drive it by hand. The watchdog
// and the control API's stream pacing run on real time whatever the
// clock, for they serve systemd and operators.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a time.Timer behind an interface.
type Timer interface {
	// C delivers the time when the timer fires.
	C() <-chan time.Time
	// Reset makes the timer fire d from now.
	Reset(d time.Duration)
	// Stop stops the timer.
	Stop()
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
