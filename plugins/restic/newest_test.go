package restic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

// newestRepo makes a repository with three snapshots: h1's, then h2's,
// then h1's again with one more file. It returns the source and the IDs,
// newest first.
func newestRepo(t *testing.T) (plugins.Source, []string) {
	t.Helper()
	src, r, _ := repo(t)
	dir := filepath.Join(filepath.Dir(r), "src")
	resticCmd(t, src, dir, "backup", "--host", "h2", ".")
	if err := os.WriteFile(filepath.Join(dir, "c.txt"), []byte("charlie\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resticCmd(t, src, dir, "backup", "--host", "h1", ".")
	return src, snapshotIDs(t, src)
}

func restoreNewest(t *testing.T, b *Backend, src plugins.Source) (*plugins.RestoreResponse, *rec) {
	t.Helper()
	ev := &rec{files: map[string][]byte{}}
	target := t.TempDir()
	resp, err := b.Restore(context.Background(), &plugins.RestoreRequest{Source: src, Target: target, Newest: true}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Cleanup(context.Background(), &plugins.CleanupRequest{Source: src}); err != nil {
		t.Fatal(err)
	}
	return resp, ev
}

// A Newest restore restores the newest snapshot that matches the source's
// filters, with restic ls and restic restore side by side (a local
// repository) or one after the other (byID), and names it as the listing
// would: ID, time, description, size, root.
func TestRestoreNewest(t *testing.T) {
	src, ids := newestRepo(t)
	list, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		host string
		byID bool
		want int // index in ids
	}{
		{"side by side", "", false, 0},
		{"by ID", "", true, 0},
		{"filtered", "h2", false, 1},
		{"filtered by ID", "h2", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clone(src)
			if tc.host != "" {
				s["host"] = tc.host
			}
			resp, ev := restoreNewest(t, &Backend{byID: tc.byID}, s)
			var listed plugins.RestorePoint
			for _, p := range list.Points {
				if p.ID == ids[tc.want] {
					listed = p
				}
			}
			listed.Root = resp.Point.Root // known once restored
			if resp.ListFirst || resp.Point != listed {
				t.Errorf("point %+v (list first %v), want %+v", resp.Point, resp.ListFirst, listed)
			}
			if _, ok := ev.files["c.txt"]; ok != (tc.want == 0) {
				t.Errorf("c.txt restored: %v, want %v (files %d)", ok, tc.want == 0, len(ev.files))
			}
			if c := checkNamed(resp, "listing"); c == nil || !c.OK || len(failsOf(resp)) > 0 {
				t.Errorf("listing check %+v, problems %+v; want a clean restore", c, resp.Problems)
			}
		})
	}
}

// Whatever restic cannot do on its own for a Newest restore is handed
// back to the host to list first: no snapshot matches, the newest
// snapshot file is damaged (restic ls latest fails on it where restic
// snapshots only warns), a pinned snapshot, a snapshot past max_bytes.
func TestRestoreNewestListFirst(t *testing.T) {
	src, ids := newestRepo(t)
	for _, tc := range []struct {
		name string
		set  func(s plugins.Source)
		max  int64
	}{
		{"no snapshot", func(s plugins.Source) { s["host"] = "nobody" }, 0},
		{"pinned", func(s plugins.Source) { s["snapshot"] = ids[1][:8] }, 0},
		{"too large", func(plugins.Source) {}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clone(src)
			tc.set(s)
			for _, byID := range []bool{false, true} {
				b := &Backend{byID: byID}
				resp, err := b.Restore(context.Background(), &plugins.RestoreRequest{Source: s, Target: t.TempDir(), Newest: true, MaxBytes: tc.max}, &rec{files: map[string][]byte{}})
				if err != nil || !resp.ListFirst {
					t.Errorf("by ID %v: %+v, %v; want list first", byID, resp, err)
				}
			}
		})
	}
	snapFile := filepath.Join(src["repository"].(string), "snapshots", ids[0])
	if err := os.WriteFile(snapFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{Source: src, Target: t.TempDir(), Newest: true}, &rec{files: map[string][]byte{}})
	if err != nil || !resp.ListFirst {
		t.Errorf("damaged newest snapshot: %+v, %v; want list first", resp, err)
	}
}

// A backup that lands while restic ls and restic restore each find
// `latest` on their own may have one restore what the other did not list:
// the set of snapshots changed, so the restore is handed back to be done
// by ID after listing. The hook adds the snapshot at the last moment, so
// the test does not depend on timing.
func TestRestoreNewestBackupLanded(t *testing.T) {
	src, _ := newestRepo(t)
	dir := filepath.Join(filepath.Dir(src["repository"].(string)), "src")
	landed := false
	b := &Backend{beforeConfirm: func() {
		if !landed {
			landed = true
			resticCmd(t, src, dir, "backup", "--host", "h1", ".")
		}
	}}
	resp, _ := restoreNewest(t, b, src)
	if !landed || !resp.ListFirst {
		t.Errorf("a backup landed during the restore: list first %v, want true", resp.ListFirst)
	}
	// Nothing landed this time: the same backend restores on its own.
	resp, _ = restoreNewest(t, b, src)
	if resp.ListFirst || !strings.HasPrefix(resp.Point.Description, "snapshot ") {
		t.Errorf("nothing landed: %+v, want the newest restored", resp.Point)
	}
}

func clone(s plugins.Source) plugins.Source {
	c := plugins.Source{}
	for k, v := range s {
		c[k] = v
	}
	return c
}
