package drills

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// choosePoint decides which restore point is restored and makes the
// restore_point check: a restore point is listed, the listing found
// nothing wrong, and the newest point an earlier drill saw has not
// vanished (see vanished). The RPO is judged on the newest point, the one
// a recovery now would use; with restore_point.random_within an older one
// may be restored, as an auditor samples. It returns false when there is
// nothing to restore.
func (dr *drillRun) choosePoint() bool {
	points := dr.obs.Points
	var newest *plugins.RestorePoint
	if len(points) == 0 {
		dr.failPoint(fmt.Sprintf("no restore point found (backend %s, source %s)", dr.d.Backend, describeSource(dr.src)))
	} else {
		n := slices.MaxFunc(points, func(a, b plugins.RestorePoint) int { return a.Time.Compare(b.Time) })
		newest = &n
		dr.judgeNewest(n)
	}
	dr.vanished(newest)
	detail := "no restore point to restore"
	if newest != nil {
		dr.setPoint(dr.randomPoint(*newest))
		detail = fmt.Sprintf("%s of %s restored, of %d listed", dr.point.ID, dr.point.Time.UTC().Format(time.RFC3339), len(points))
	}
	dr.pointCheck(detail)
	return newest != nil
}

// judgeNewest records what the newest restore point says: the backup's
// age (for the RPO) and what its time is.
func (dr *drillRun) judgeNewest(n plugins.RestorePoint) {
	dr.rec.BackupAgeSeconds = dr.rec.Started.Sub(n.Time).Seconds()
	dr.basis = timeBasis(n)
	dr.detail("backup_time_basis", dr.basis)
}

// setPoint makes p the point restored, in the record too.
func (dr *drillRun) setPoint(p plugins.RestorePoint) {
	dr.point = p
	dr.rec.RestorePoint = record.RestorePoint{ID: p.ID, Time: p.Time.UTC(), Description: p.Description}
	dr.obs.Point = p
}

// pointCheck adds the restore_point check, with detail when it holds.
func (dr *drillRun) pointCheck(detail string) {
	c := record.Check{Name: "restore_point", OK: len(dr.restorePointCauses) == 0, Detail: detail}
	if !c.OK {
		c.Detail = strings.Join(dr.restorePointCauses, "; ")
	}
	dr.found.checks = append(dr.found.checks, c)
}

// asksNewest reports whether the backend is asked to restore its newest
// point in one call, with no listing first: it can, and the drill needs
// neither a choice among points (restore_point.random_within, a sample's
// slices) nor every point (drill init, which observes, learns a backup's
// cadence from them).
func (dr *drillRun) asksNewest() bool {
	return dr.desc.RestoresNewest && dr.d.RandomWithin <= 0 && dr.d.Sample == nil && dr.r.Observe == nil
}

// restoreNewest has the backend restore its newest restore point, which it
// names in its response, and makes the restore_point check on that point
// as choosePoint does on the newest one listed: it is the newest, so the
// RPO is judged on it, and the vanished rule needs the listing only when
// an earlier drill saw a newer point (see newestVanished). done is false
// when the backend asked for the listing first: the target is emptied and
// the caller lists, chooses and restores by ID. ok says whether the drill
// goes on.
func (dr *drillRun) restoreNewest(ctx context.Context) (done, ok bool) {
	dr.restoreStart = time.Now()
	dr.phase(PhaseRestore)
	req := dr.restoreRequest()
	req.Newest = true
	resp, err := dr.restoreOnce(ctx, req)
	if err != nil {
		return true, false
	}
	if resp.ListFirst {
		dr.log.Info("the backend did not restore its newest point on its own; listing restore points first")
		dr.col.reset()
		if err := dr.sd.Empty(); err != nil {
			dr.error(err.Error())
			return true, false
		}
		return false, false
	}
	p := resp.Point
	if p.ID == "" || p.Time.IsZero() {
		dr.error(fmt.Sprintf("backend %s restored its newest restore point without naming it (ID %q, time %s)", dr.d.Backend, p.ID, p.Time))
		return true, false
	}
	dr.obs = &Observation{Drill: dr.d.Name, Points: []plugins.RestorePoint{p}}
	dr.judgeNewest(p)
	if !dr.newestVanished(ctx, p) {
		return true, false
	}
	dr.setPoint(p)
	store := dr.desc.StoreNoun
	if store == "" {
		store = "backup"
	}
	dr.pointCheck(fmt.Sprintf("%s of %s restored, the newest in the %s", p.ID, p.Time.UTC().Format(time.RFC3339), store))
	dr.took(resp)
	return true, true
}

// newestVanished applies the vanished rule to newest, the point the
// backend restored as its newest. The rule can fail only when an earlier
// drill saw a point newer than newest: a point at least as new as every
// point seen leaves nothing seen vanished without something as new in
// its place, the case vanished returns on before it looks at the list.
// Only then are the points listed (ListRestorePoints), so that vanished
// judges exactly as after a listing first, on the same list. It returns
// false when the listing could not be made.
func (dr *drillRun) newestVanished(ctx context.Context, newest plugins.RestorePoint) bool {
	if dr.r.Recorder != nil {
		seen, ok, err := dr.r.Recorder.NewestPoint(dr.d.Name, dr.rec.SourceSHA256)
		if err == nil && ok && newest.Time.Before(seen.Time) {
			if !dr.listPoints(ctx) {
				return false
			}
			dr.phase(PhaseRestore)
		}
	}
	dr.vanished(&newest)
	return true
}

// failPoint records why the restore_point check fails.
func (dr *drillRun) failPoint(reason string) {
	dr.problem("restore_point", true, reason)
	dr.restorePointCauses = append(dr.restorePointCauses, reason)
}

// randomPoint is the point to restore: the newest, or with
// restore_point.random_within one chosen at random among those younger.
func (dr *drillRun) randomPoint(newest plugins.RestorePoint) plugins.RestorePoint {
	if dr.d.RandomWithin <= 0 {
		return newest
	}
	var cands []plugins.RestorePoint
	for _, p := range dr.obs.Points {
		if dr.rec.Started.Sub(p.Time) <= dr.d.RandomWithin {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return newest
	}
	slices.SortStableFunc(cands, func(a, b plugins.RestorePoint) int { return a.Time.Compare(b.Time) })
	point := cands[dr.r.randN(len(cands))]
	dr.detail("restore_point_choice", fmt.Sprintf("random within %s: %s, one of %d points; the RPO is judged on the newest, %s of %s",
		human.Duration(dr.d.RandomWithin), point.ID, len(cands), newest.ID, newest.Time.UTC().Format(time.RFC3339)))
	return point
}

// vanished fails the restore_point check when the newest restore point an
// earlier drill of the same source saw is no longer listed and nothing as
// new replaced it: a deleted newest snapshot, which restic itself cannot
// notice (`latest` silently becomes an older one and every check passes).
// The failure lasts until a restore point at least as new as the vanished
// one is listed again. newest is the newest point listed now, nil for none.
func (dr *drillRun) vanished(newest *plugins.RestorePoint) {
	if dr.r.Recorder == nil {
		return
	}
	seen, ok, err := dr.r.Recorder.NewestPoint(dr.d.Name, dr.rec.SourceSHA256)
	if err != nil {
		reason := fmt.Sprintf("read what earlier drills saw from the evidence log: %v", err)
		dr.problem("restore_point", false, reason)
		dr.restorePointCauses = append(dr.restorePointCauses, reason)
		return
	}
	if !ok || newest != nil && !newest.Time.Before(seen.Time) ||
		slices.ContainsFunc(dr.obs.Points, func(p plugins.RestorePoint) bool { return p.ID == seen.ID }) {
		return
	}
	noun, store := dr.desc.PointNoun, dr.desc.StoreNoun
	if noun == "" {
		noun = "restore point"
	}
	if store == "" {
		store = "backup"
	}
	now := "none is listed now"
	if newest != nil {
		now = fmt.Sprintf("the newest now is %s of %s", newest.ID, newest.Time.UTC().Format(time.RFC3339))
	}
	dr.log.Warn("newest restore point vanished", "point", seen.ID, "seen_in_record", seen.LogIndex)
	dr.failPoint(fmt.Sprintf("%s %s of %s has vanished from the %s (record %d saw it; %s)",
		noun, seen.ID, seen.Time.UTC().Format(time.RFC3339), store, seen.LogIndex, now))
}
