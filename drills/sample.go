package drills

import (
	"cmp"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"slices"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// sliceOrder is the order in which a sampled drill tries the slices of
// its sample: least recently proven first (never proven before proven),
// then by number. The first is restored; the others only when it holds
// no files. A run that fails leaves its slice first for the next run.
func (r *Runner) sliceOrder(d *config.Drill, source string) ([]int, error) {
	n := d.Sample.Slices()
	passed := make([]time.Time, n)
	if r.Recorder != nil {
		p, err := r.Recorder.SlicePasses(d.Name, source, d.Sample.Seed, n)
		if err != nil {
			return nil, err
		}
		copy(passed, p)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return passed[a].Compare(passed[b]) })
	return order, nil
}

// sampleDetail describes a sampled restore for the record's details.
func sampleDetail(s *record.Sample, resp *plugins.RestoreResponse, empty []string) string {
	ps := &plugins.Sample{Slice: s.Slice, Slices: s.Slices}
	detail := fmt.Sprintf("%s (%d%%, seed %q): %d of %d files, %s of %s", ps, s.Percent, s.Seed,
		resp.Files, resp.TotalFiles, human.Size(resp.Bytes), human.Size(resp.TotalBytes))
	if resp.TotalFiles == 0 && resp.Files > 0 { // stopped before the backend knew its totals
		detail = fmt.Sprintf("%s (%d%%, seed %q): stopped after %d files, %s", ps, s.Percent, s.Seed, resp.Files, human.Size(resp.Bytes))
	}
	if len(empty) > 0 {
		detail += "; " + strings.Join(empty, ", ") + " held no files"
	}
	return detail
}

// inSample reports whether the restored path rel (relative to the target,
// "/"-separated) is in the drill's sample; true for a drill without one.
func inSample(rec *record.Record, rel string) bool {
	if rec.Sample == nil {
		return true
	}
	return (&plugins.Sample{Seed: rec.Sample.Seed, Slice: rec.Sample.Slice, Slices: rec.Sample.Slices}).HasAt(rel, rec.Sample.Depth)
}

// Coverage is the share of a backup proven by a drill's passes within its
// service's review_every: 1 for a drill that restored everything, the
// slices proven for a sampled one.
type Coverage struct {
	// Files and Bytes are shares from 0 to 1 of the newest restore
	// point's regular files and bytes.
	Files float64 `json:"files"`
	Bytes float64 `json:"bytes"`
	// SlicesProven of Slices, for a sampled drill; 0 otherwise.
	SlicesProven int `json:"slices_proven,omitempty"`
	Slices       int `json:"slices,omitempty"`
}

// coverage computes a drill's coverage from its passes finished in the
// window (at-window, at], newest first. A pass that restored everything
// covers all; otherwise the slices passed with the newest pass's seed,
// number of slices and unit depth add up, each counted once with its newest pass's files
// and bytes, against the newest pass's totals. A backup that changed
// between the passes makes this an estimate; a file keeps its slice, so
// the files present throughout are covered exactly.
func coverage(passes []*record.Record, window time.Duration, at time.Time) Coverage {
	var c Coverage
	var latest *record.Sample
	seen := map[int]bool{}
	var files, bytes int64
	for _, r := range passes {
		if window > 0 && at.Sub(r.Finished) > window {
			break
		}
		if r.Sample == nil {
			if latest == nil {
				return Coverage{Files: 1, Bytes: 1}
			}
			continue
		}
		if latest == nil {
			latest = r.Sample
			c.Slices = latest.Slices
		}
		if r.Sample.Seed != latest.Seed || r.Sample.Slices != latest.Slices || r.Sample.Depth != latest.Depth || seen[r.Sample.Slice] {
			continue
		}
		seen[r.Sample.Slice] = true
		files += r.Files
		bytes += r.Bytes
	}
	if latest == nil {
		return c
	}
	c.SlicesProven = len(seen)
	c.Files = share(files, latest.TotalFiles)
	c.Bytes = share(bytes, latest.TotalBytes)
	if c.SlicesProven == c.Slices {
		c.Files, c.Bytes = 1, 1
	}
	return c
}

// share is n/total, at most 1; 1 for an empty total.
func share(n, total int64) float64 {
	if total <= 0 {
		return 1
	}
	return min(1, float64(n)/float64(total))
}

// worseCoverage is the coverage of a service: its least covered drill's.
func worseCoverage(a, b Coverage) Coverage {
	if cmp.Compare(b.Files+b.Bytes, a.Files+a.Bytes) < 0 {
		return b
	}
	return a
}

// String is "100%", or for a sample "40% of files, 37% of bytes (2 of 5
// slices)"; shares are rounded down, so 100% means all.
func (c Coverage) String() string {
	pct := func(f float64) int { return int(f*100 + 1e-9) }
	if c.Slices == 0 {
		if c.Files >= 1 && c.Bytes >= 1 {
			return "100%"
		}
		return fmt.Sprintf("%d%%", pct(min(c.Files, c.Bytes)))
	}
	return fmt.Sprintf("%d%% of files, %d%% of bytes (%d of %d slices)", pct(c.Files), pct(c.Bytes), c.SlicesProven, c.Slices)
}
