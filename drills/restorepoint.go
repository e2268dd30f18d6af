package drills

import (
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
		dr.rec.BackupAgeSeconds = dr.rec.Started.Sub(n.Time).Seconds()
		dr.basis = timeBasis(n)
		dr.detail("backup_time_basis", dr.basis)
	}
	dr.vanished(newest)
	detail := "no restore point to restore"
	if newest != nil {
		dr.point = dr.randomPoint(*newest)
		dr.rec.RestorePoint = record.RestorePoint{ID: dr.point.ID, Time: dr.point.Time.UTC(), Description: dr.point.Description}
		dr.obs.Point = dr.point
		detail = fmt.Sprintf("%s of %s restored, of %d listed", dr.point.ID, dr.point.Time.UTC().Format(time.RFC3339), len(points))
	}
	c := record.Check{Name: "restore_point", OK: len(dr.restorePointCauses) == 0, Detail: detail}
	if !c.OK {
		c.Detail = strings.Join(dr.restorePointCauses, "; ")
	}
	dr.found.checks = append(dr.found.checks, c)
	return newest != nil
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
