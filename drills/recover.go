package drills

import (
	"context"

	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/scratch"
)

// Recover is what every process that runs drills does first, once it holds
// the evidence store's lock (so no other process runs drills and all that
// is left is stale): it records the drills a dead process left under way
// as interrupted, removes the scratch directories below ScratchRoot and
// sweeps the scratch databases announced by drills that died. The agent
// calls it at start, `drill run` before its first drill. It returns the
// interrupted records it appended.
func (r *Runner) Recover(ctx context.Context) ([]*record.Record, error) {
	recs, err := r.RecordInterrupted()
	if err != nil {
		return recs, err
	}
	if r.ScratchRoot != "" {
		removed, err := scratch.Clean(r.ScratchRoot)
		if err != nil {
			return recs, err
		}
		if len(removed) > 0 {
			r.logger().Warn("removed stale scratch directories left by an earlier run", "dirs", removed)
		}
	}
	removed, err := r.SweepScratch(ctx)
	if err != nil {
		return recs, err
	}
	if len(removed) > 0 {
		r.logger().Warn("removed scratch databases left by an earlier drill that died", "names", removed)
	}
	return recs, nil
}
