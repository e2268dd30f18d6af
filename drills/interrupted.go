package drills

import (
	"fmt"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// RecordInterrupted appends an interrupted record for every drill whose
// start marker outlived its process: the process that ran it was killed
// or the host went down before the drill's record was appended. Call it
// once the evidence store is open for writing: the store's file lock
// guarantees no other process is running drills, so every marker left is
// stale. It returns the records appended.
func (r *Runner) RecordInterrupted() ([]*record.Record, error) {
	if r.Marks == nil || r.Recorder == nil {
		return nil, nil
	}
	left, err := r.Marks.RunningLeft()
	if err != nil {
		return nil, fmt.Errorf("read the start markers of drills: %w", err)
	}
	var out []*record.Record
	now := r.now().UTC()
	for _, m := range left {
		rec := &record.Record{
			Drill: m.Drill, Service: m.Service, Backend: m.Backend, Host: m.Host,
			Started: m.Started, Finished: now,
			Verdict: record.VerdictInterrupted,
			Reasons: []string{fmt.Sprintf(
				"the drill was under way in process %d on %s since %s and never finished: the process was killed or the host went down (found at the next start, %s)",
				m.PID, m.Host, m.Started.Format(time.RFC3339), now.Format(time.RFC3339))},
			Checks:       []record.Check{},
			DrillVersion: r.Version,
		}
		if svc := r.Config.Services[m.Service]; svc != nil {
			rec.RPOSeconds, rec.RTOSeconds = svc.RPO.Seconds(), svc.RTO.Seconds()
		}
		if _, err := r.Recorder.Append(rec); err != nil {
			return out, fmt.Errorf("record drill %s as interrupted: %w", m.Drill, err)
		}
		r.logger().Warn("drill recorded as interrupted: its process died during it", "drill", m.Drill, "started", m.Started, "pid", m.PID)
		out = append(out, rec)
	}
	return out, nil
}
