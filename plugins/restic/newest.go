package restic

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drillhq/drill/plugins"
)

// A drill of the newest snapshot (RestoreRequest.Newest) runs two restic
// processes, not three: `restic ls latest` names the snapshot in its first
// line and lists it for the listing check, so `restic snapshots` is not
// needed. Each restic process spends about half a second of CPU deriving
// the repository key (scrypt), and on a small host that CPU competes with
// the restore.
//
// restic restore prints nothing, with --json, of the snapshot it chose for
// `latest` (cmd_restore.go says "restoring <snapshot> to <target>" only
// without --json), so which one it restored is established another way:
//
//   - A local repository: `restic restore latest` starts together with
//     `restic ls latest`, both deriving their keys at once. A snapshot's ID
//     is the name of its file in the repository's snapshots folder, so the
//     names read before both start and again after the restore tell
//     whether the set of snapshots changed meanwhile. Unchanged, both
//     resolved `latest` over the same snapshots, so the restore is of the
//     snapshot ls listed. Changed (a backup landed, or a forget ran), the
//     backend answers ListFirst and the host restores again by ID after
//     listing: the one retry, on a path without the race.
//   - Any other repository: the restore starts once ls has named the
//     snapshot, by its ID: one key derivation after the other, but still
//     two processes instead of three.
//
// Whatever restic could not do on this path (no snapshot, a snapshot file
// it cannot read, which `restic ls latest` fails on where `restic
// snapshots` only warns, a wrong password, a lock) is answered ListFirst,
// so the host lists the snapshots and judges it exactly as without Newest.
// So is a snapshot larger than max_scratch_bytes or than the target's free
// space, for the host's preflight to refuse it.

// restoreNewest restores the newest snapshot matching the source and
// names it in the response (see above).
func (b *Backend) restoreNewest(ctx context.Context, s *source, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	listFirst := &plugins.RestoreResponse{ListFirst: true}
	if s.snapshot != "latest" {
		return listFirst, nil
	}
	var before []string
	dir := ""
	if isLocal(s.repo) && !b.byID {
		if d, err := filepath.Abs(strings.TrimPrefix(s.repo, "local:")); err == nil {
			dir = filepath.Join(d, "snapshots")
		}
		var err error
		if before, err = snapshotFiles(dir); err != nil {
			dir = ""
		}
	}
	// Beside a restore that starts at once, ls yields the CPU to it.
	l, err := s.startListing(ctx, s.lsArgs("latest"), dir != "")
	if err != nil {
		return nil, err
	}
	defer l.close()
	rctx, stopRestore := context.WithCancel(ctx)
	defer stopRestore()
	rreq := *req
	fit := make(chan bool, 1) // whether the snapshot is restored on this path
	if dir == "" {
		if !b.fits(ctx, l, req) {
			return listFirst, ctx.Err()
		}
		rreq.PointID = l.snap.ID
		fit <- true
	} else {
		go func() {
			ok := b.fits(rctx, l, req)
			if !ok {
				stopRestore()
			}
			fit <- ok
		}()
	}
	resp, r, summary, err := s.restore(rctx, &rreq, nil, events)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A restic that printed nothing failed before it restored anything:
	// the listing path says why in its own words.
	if !<-fit || r.code != 0 && r.lines == 0 || !b.sameSet(dir, before, l.snap.ID) {
		return listFirst, nil
	}
	rreq.PointID = l.snap.ID
	resp.Point = b.point(l.snap)
	resp.Point.Root = restoredRoot(req.Target, l.snap.Paths)
	if len(resp.Problems) > 0 { // stopped: past max_scratch_bytes, or the target is full
		return resp, nil
	}
	if err := b.conclude(ctx, s, &rreq, nil, l, resp, r, summary, events); err != nil {
		return nil, err
	}
	return resp, nil
}

// fits waits for l to name its snapshot and reports whether it is to be
// restored on this path: named, and not larger than max_scratch_bytes or
// the target's free space (by its summary).
func (b *Backend) fits(ctx context.Context, l *listing, req *plugins.RestoreRequest) bool {
	select {
	case <-l.head:
	case <-ctx.Done():
		return false
	}
	if l.snap.ID == "" {
		return false
	}
	if l.snap.Summary == nil {
		return true
	}
	size := l.snap.Summary.TotalBytesProcessed
	free := freeBytes(req.Target)
	return (req.MaxBytes <= 0 || size <= req.MaxBytes) && (free < 0 || size <= free)
}

// sameSet reports whether the snapshots folder dir (of a local
// repository) still holds the files before named, id among them; true
// when dir is empty (the restore was by ID).
func (b *Backend) sameSet(dir string, before []string, id string) bool {
	if dir == "" {
		return true
	}
	if b.beforeConfirm != nil {
		b.beforeConfirm()
	}
	after, err := snapshotFiles(dir)
	_, found := slices.BinarySearch(after, id)
	return err == nil && found && slices.Equal(before, after)
}

// snapshotFiles returns the sorted names in a local repository's
// snapshots folder: the IDs of its snapshots.
func snapshotFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the snapshots of repository folder %s: %w", dir, err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}
