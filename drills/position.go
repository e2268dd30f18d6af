package drills

import (
	"cmp"
	"errors"
	"github.com/drillhq/drill/internal/human"
	"slices"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// Status is the status of a drill or a service in the recovery position
// (DESIGN.md, "Recovery position").
type Status string

// Statuses, from best to worst.
const (
	StatusProven   Status = "proven"
	StatusAtRisk   Status = "at_risk"
	StatusStale    Status = "stale"
	StatusUntested Status = "untested"
	StatusFailing  Status = "failing"
)

// Statuses are the statuses from best to worst.
var Statuses = []Status{StatusProven, StatusAtRisk, StatusStale, StatusUntested, StatusFailing}

// severity orders statuses: a service is as bad as its worst drill.
func (s Status) severity() int { return slices.Index(Statuses, s) }

// trendRuns is how many of a drill's latest passes the restore-time trend
// is taken over.
const trendRuns = 5

// ServicePosition is one service's recovery position: what is claimed and
// what the evidence shows.
type ServicePosition struct {
	Service     string `json:"service"`
	Owner       string `json:"owner"`
	Priority    int    `json:"priority"`
	Description string `json:"description,omitempty"`
	// RPO, RTO and ReviewEvery are the claims in seconds; 0 when not claimed.
	RPO         float64 `json:"rpo"`
	RTO         float64 `json:"rto"`
	ReviewEvery float64 `json:"review_every"`
	// Standing is the service's: the worst status of its drills (untested
	// when it has none); the oldest of the drills' latest passes (the
	// service is proven only as recently as its least recently proven
	// drill; nil when a drill never passed); its newest record; the worst
	// restore time and backup age among the drills' latest passes; the
	// reasons of every drill; the coverage of its least covered drill.
	Standing
	Drills []DrillPosition `json:"drills"`
}

// Standing is what the records show of a drill, or of a service from its
// drills.
type Standing struct {
	Status Status `json:"status"`
	// LastPass and LastDrill are when the latest pass and the latest
	// record finished; LastPass is nil when there was no pass.
	LastPass    *time.Time     `json:"last_pass"`
	LastDrill   *time.Time     `json:"last_drill"`
	LastVerdict record.Verdict `json:"last_verdict"`
	// LastSandbox is the confinement the newest record's plugin ran under
	// (its details.sandbox); "" for records from before drill recorded it.
	LastSandbox string `json:"last_sandbox"`
	// MeasuredRTO and BackupAge are the restore time and backup age of the
	// latest pass, in seconds.
	MeasuredRTO float64 `json:"measured_rto"`
	BackupAge   float64 `json:"backup_age"`
	// Reasons are the reasons of the latest record when it did not pass
	// (and is newer than the last pass), or why a pass is missing.
	Reasons []string `json:"reasons"`
	// Coverage is the share of the backup proven within review_every.
	Coverage Coverage `json:"coverage"`
}

// DrillPosition is one drill's part in its service's position.
type DrillPosition struct {
	Drill string `json:"drill"`
	// Standing: Coverage is what the drill's passes within review_every
	// proved: all of the backup for a drill that restores everything, the
	// slices proven for a sampled drill.
	Standing
	// LastIndex is the log index of the drill's newest record; -1 for none.
	LastIndex int64 `json:"last_index"`
	// Trend is the restore time of the latest passes, oldest first, in
	// seconds; Rising is set when it grew run over run across them.
	Trend  []float64 `json:"trend"`
	Rising bool      `json:"rising"`
}

// Position computes the recovery position at time at from the records
// (any order; only those finished by at count), for every service of cfg.
// It is sorted by priority, then worst status first, then name.
func Position(cfg *config.Config, recs []*record.Record, at time.Time) []ServicePosition {
	byDrill := map[string][]*record.Record{}
	for _, r := range recs {
		if r.Finished.After(at) {
			continue
		}
		byDrill[r.Drill] = append(byDrill[r.Drill], r)
	}
	var out []ServicePosition
	for _, name := range sortedKeys(cfg.Services) {
		svc := cfg.Services[name]
		sp := ServicePosition{Service: name, Owner: svc.Owner, Priority: svc.Priority, Description: svc.Description,
			RPO: svc.RPO.Seconds(), RTO: svc.RTO.Seconds(), ReviewEvery: svc.ReviewEvery.Seconds(),
			Standing: Standing{Status: StatusUntested, Reasons: []string{}}, Drills: []DrillPosition{}}
		worst := -1
		var oldestPass *time.Time
		allPassed := true
		for _, dn := range cfg.DrillNames() {
			d := cfg.Drills[dn]
			if d.Service != name {
				continue
			}
			dp := drillPosition(dn, byDrill[dn], svc.ReviewEvery, at)
			sp.Drills = append(sp.Drills, dp)
			if s := dp.Status.severity(); s > worst {
				worst, sp.Status = s, dp.Status
			}
			if dp.LastPass == nil {
				allPassed = false
			} else if oldestPass == nil || dp.LastPass.Before(*oldestPass) {
				oldestPass = dp.LastPass
			}
			if dp.LastDrill != nil && (sp.LastDrill == nil || dp.LastDrill.After(*sp.LastDrill)) {
				sp.LastDrill, sp.LastVerdict, sp.LastSandbox = dp.LastDrill, dp.LastVerdict, dp.LastSandbox
			}
			sp.MeasuredRTO = max(sp.MeasuredRTO, dp.MeasuredRTO)
			sp.BackupAge = max(sp.BackupAge, dp.BackupAge)
			sp.Reasons = append(sp.Reasons, dp.Reasons...)
			if len(sp.Drills) == 1 {
				sp.Coverage = dp.Coverage
			} else {
				sp.Coverage = worseCoverage(sp.Coverage, dp.Coverage)
			}
		}
		if allPassed && len(sp.Drills) > 0 {
			sp.LastPass = oldestPass
		}
		if len(sp.Drills) == 0 {
			sp.Reasons = append(sp.Reasons, "no drill proves this service: add one to the config")
		}
		out = append(out, sp)
	}
	slices.SortStableFunc(out, func(a, b ServicePosition) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), -cmp.Compare(a.Status.severity(), b.Status.severity()), cmp.Compare(a.Service, b.Service))
	})
	return out
}

// drillPosition is one drill's status from its records (finished by at).
func drillPosition(name string, recs []*record.Record, window time.Duration, at time.Time) DrillPosition {
	dp := DrillPosition{Drill: name, Standing: Standing{Status: StatusUntested, Reasons: []string{}}, LastIndex: -1, Trend: []float64{}}
	slices.SortStableFunc(recs, func(a, b *record.Record) int { return cmp.Compare(a.LogIndex, b.LogIndex) })
	if len(recs) == 0 {
		dp.Reasons = append(dp.Reasons, "drill "+name+" has never run")
		return dp
	}
	last := recs[len(recs)-1]
	dp.LastDrill, dp.LastVerdict, dp.LastIndex = ptr(last.Finished), last.Verdict, last.LogIndex
	dp.LastSandbox = last.Details["sandbox"]
	var lastPass *record.Record
	var passes []*record.Record
	for _, r := range recs {
		if r.Verdict == record.VerdictPass {
			lastPass = r
			passes = append(passes, r)
		}
	}
	inWindow := lastPass != nil && (window <= 0 || at.Sub(lastPass.Finished) <= window)
	if lastPass != nil {
		dp.LastPass = ptr(lastPass.Finished)
		dp.MeasuredRTO, dp.BackupAge = lastPass.RestoreSeconds, lastPass.BackupAgeSeconds
	}
	switch {
	case last.Verdict == record.VerdictPass && inWindow:
		dp.Status = StatusProven
	case inWindow:
		dp.Status = StatusAtRisk
	case last.Verdict == record.VerdictFail:
		dp.Status = StatusFailing
	case lastPass != nil:
		dp.Status = StatusStale
	default:
		// Never passed, and the last drill proves nothing (error,
		// interrupted): still untested.
		dp.Status = StatusUntested
	}
	if last.Verdict != record.VerdictPass {
		for _, r := range last.Reasons {
			dp.Reasons = append(dp.Reasons, name+": "+r)
		}
	} else if !inWindow {
		dp.Reasons = append(dp.Reasons, name+": no pass within review_every ("+human.Duration(window)+"); the last was "+human.Duration(at.Sub(lastPass.Finished))+" ago")
	}
	newestFirst := slices.Clone(passes)
	slices.Reverse(newestFirst)
	dp.Coverage = coverage(newestFirst, window, at)
	if n := len(passes); n > 0 {
		for _, p := range passes[max(0, n-trendRuns):] {
			dp.Trend = append(dp.Trend, p.RestoreSeconds)
		}
		dp.Rising = len(dp.Trend) >= 3
		for i := 1; i < len(dp.Trend); i++ {
			if dp.Trend[i] <= dp.Trend[i-1] {
				dp.Rising = false
			}
		}
	}
	return dp
}

func ptr(t time.Time) *time.Time { return &t }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// PositionIndex is what PositionQuery.Records reads: the record index of
// an evidence store, and its records (*evidence.Store implements it).
type PositionIndex interface {
	// DrillIndex calls fn for drill's records, newest (highest log
	// index) first, until fn returns false.
	DrillIndex(drill string, fn func(evidence.IndexEntry) bool) error
	// Records returns the records at these log indexes.
	Records(indexes []int64) ([]*record.Record, error)
}

// PositionQuery is what a position needs to know to choose its records:
// its time, and each drill with its service's review_every.
type PositionQuery struct {
	At     time.Time
	Drills []PositionDrill
}

// PositionDrill is a drill of a PositionQuery.
type PositionDrill struct {
	Drill       string
	ReviewEvery time.Duration
}

// PositionQueryFor is the query of the position of cfg's services at at.
func PositionQueryFor(cfg *config.Config, at time.Time) PositionQuery {
	q := PositionQuery{At: at}
	for _, dn := range cfg.DrillNames() {
		pd := PositionDrill{Drill: dn}
		if svc := cfg.Services[cfg.Drills[dn].Service]; svc != nil {
			pd.ReviewEvery = svc.ReviewEvery
		}
		q.Drills = append(q.Drills, pd)
	}
	return q
}

// Records reads from idx the records Position needs at q.At, no more: per
// drill, its newest record finished by then, and its passes finished by
// then, newest first, until both the trend (its trendRuns latest passes)
// and the coverage (the passes within review_every; only the newest when
// it was not sampled) are covered. Position over them is Position over
// every record. An error from idx (evidence.ErrNotIndexed) is returned as
// it is.
func (q PositionQuery) Records(idx PositionIndex) ([]*record.Record, error) {
	var want []int64
	for _, d := range q.Drills {
		var err error
		if want, err = d.indexes(idx, q.At, want); err != nil {
			return nil, err
		}
	}
	return idx.Records(want)
}

// StoreRecords is Records read from store, or every record of it when its
// indexes do not cover the log (an earlier version appended to it and it
// was opened read-only since): Position over either is the same.
func (q PositionQuery) StoreRecords(store *evidence.Store) ([]*record.Record, error) {
	recs, err := q.Records(store)
	if !errors.Is(err, evidence.ErrNotIndexed) {
		return recs, err
	}
	recs = nil
	err = store.Entries(func(en *evidence.Entry) error {
		recs = append(recs, en.Record)
		return nil
	}, false)
	return recs, err
}

// indexes appends to out the log indexes of the records of d that Position
// reads at at (see PositionQuery.Records).
func (d PositionDrill) indexes(idx PositionIndex, at time.Time, out []int64) ([]int64, error) {
	haveLast, passes, covered := false, 0, false
	err := idx.DrillIndex(d.Drill, func(e evidence.IndexEntry) bool {
		if e.Finished.After(at) {
			return true
		}
		take := !haveLast
		haveLast = true
		if e.Verdict == record.VerdictPass {
			// coverage stops at the first pass out of the window; it
			// reads no other pass when the newest restored everything.
			if d.ReviewEvery > 0 && at.Sub(e.Finished) > d.ReviewEvery {
				covered = true
			}
			take = take || passes < trendRuns || !covered
			if passes == 0 && !e.Sampled {
				covered = true
			}
			passes++
		}
		if take {
			out = append(out, e.Index)
		}
		return passes < trendRuns || !covered
	})
	return out, err
}
