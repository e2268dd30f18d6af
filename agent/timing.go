package agent

import (
	"hash/fnv"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/schedule"
)

// timing says when one scheduled drill runs: its schedule's activations,
// each shifted by the drill's jitter offset.
type timing struct {
	sched  schedule.Schedule
	offset time.Duration
}

// newTiming returns the timing of d on host, and false for a drill that
// runs only on demand.
func newTiming(d *config.Drill, host string) (timing, bool) {
	if d.Schedule == "" {
		return timing{}, false
	}
	s, err := schedule.Parse(d.Schedule)
	if err != nil {
		// The config was validated; a schedule that does not parse is
		// not scheduled.
		return timing{}, false
	}
	return timing{sched: s, offset: jitterOffset(host, d.Name, d.Jitter)}, true
}

// next returns the first run strictly after t, or the zero time when the
// schedule has none.
func (t timing) next(after time.Time) time.Time {
	n := t.sched.Next(after.Add(-t.offset))
	if n.IsZero() {
		return n
	}
	return n.Add(t.offset)
}

// period is the longest gap between two consecutive runs among the next
// 64 after from: how long a healthy agent may go without running the
// drill (before its timeout).
func (t timing) period(from time.Time) time.Duration {
	var longest time.Duration
	prev := t.next(from)
	for range 64 {
		if prev.IsZero() {
			break
		}
		n := t.next(prev)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(prev))
		prev = n
	}
	return longest
}

// jitterOffset is a fixed offset in [0, jitter) for drill on host: the
// same at every start, different across hosts and drills, so that a fleet
// sharing a config spreads its restores.
func jitterOffset(host, drill string, jitter time.Duration) time.Duration {
	if jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(host))
	h.Write([]byte{0})
	h.Write([]byte(drill))
	return time.Duration(h.Sum64() % uint64(jitter))
}

// missed reports whether a drill last started at last missed a run before
// now: its next run after last is already due.
func (t timing) missed(last, now time.Time) bool {
	n := t.next(last)
	return !n.IsZero() && !n.After(now)
}

// NextRun returns when the agent on host runs drill d next after t (with
// its jitter), or the zero time for a drill that runs only on demand.
func NextRun(d *config.Drill, host string, t time.Time) time.Time {
	tm, ok := newTiming(d, host)
	if !ok {
		return time.Time{}
	}
	return tm.next(t)
}
