package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// A sampled drill restores a different slice each run, chosen from the
// backup's own listing, and after ceil(100/N) passing runs the slices have
// restored every file once, largest included; the position's coverage
// figure grows run by run to 100% and drops when passes leave the review
// window. Real plugin processes restore a real tar archive, a directory
// copy and a restic snapshot made by the pinned restic.
func TestSampleCoversTheWholeBackup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	sizes := map[string]int64{}
	var total int64
	for i := range 40 {
		name := fmt.Sprintf("d%d/f%02d.bin", i%5, i)
		size := int64(100 + i*37)
		if i == 7 {
			size = 3 << 20 // the largest file, sampled like any other
		}
		p := filepath.Join(data, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		sizes[name] = size
		total += size
	}
	if out, err := exec.Command("tar", "-czf", filepath.Join(dir, "files.tar.gz"), "-C", data, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	// 64 directories of 3 files: restic samples whole directories.
	wide := filepath.Join(dir, "wide")
	for i := range 64 {
		for j := range 3 {
			p := filepath.Join(wide, fmt.Sprintf("w%02d", i), fmt.Sprintf("g%d", j))
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, make([]byte, 10+i*3+j), 0o644))
		}
	}
	tiny := filepath.Join(dir, "tiny")
	must(t, os.MkdirAll(tiny, 0o755))
	must(t, os.WriteFile(filepath.Join(tiny, "a"), []byte("a\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(tiny, "b"), []byte("bb\n"), 0o644))
	restic := filepath.Join(filepath.Dir(drillBin), "restic")
	repo, pw := filepath.Join(dir, "repo"), filepath.Join(dir, "restic.pw")
	must(t, os.WriteFile(pw, []byte("sample-test\n"), 0o600))
	wideRepo := filepath.Join(dir, "wide-repo")
	for _, args := range [][]string{{"-r", repo, "init"}, {"-r", repo, "backup", "--host", "h", "."}, {"-r", wideRepo, "init"}, {"-r", wideRepo, "backup", wide}} {
		cmd := exec.Command(restic, append([]string{"--password-file", pw}, args...)...)
		cmd.Dir = data
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v: %s", args, err, out)
		}
	}
	clock := time.Now().UTC()
	r, store, cfg := realRunner(t, dir, `
state_dir: state
services:
  files: {owner: ops@example.org, priority: 1, review_every: 7d}
drills:
  tar: {service: files, backend: filesystem, source: {archive: files.tar.gz}, sample: {percent: 25, seed: s1},
        checks: {min_files: 40, paths: [d2/f07.bin, d0/f00.bin]}}
  copy: {service: files, backend: filesystem, source: {path: data}, sample: {percent: 20}}
  wide: {service: files, backend: restic, source: {repository: `+wideRepo+`, password_file: restic.pw, restic_binary: `+restic+`}, sample: {percent: 50}}
  tiny: {service: files, backend: filesystem, source: {path: tiny}, sample: {percent: 10}}
  restic: {service: files, backend: restic, source: {repository: `+repo+`, password_file: restic.pw, restic_binary: `+restic+`}, sample: {percent: 50}}
`, &clock)
	coverage := func(drill string, at time.Time) drills.Coverage {
		t.Helper()
		var recs []*record.Record
		must(t, store.Entries(func(e *evidence.Entry) error { recs = append(recs, e.Record); return nil }, false))
		for _, sp := range drills.Position(cfg, recs, at) {
			for _, dp := range sp.Drills {
				if dp.Drill == drill {
					return dp.Coverage
				}
			}
		}
		t.Fatalf("drill %s not in the position", drill)
		return drills.Coverage{}
	}

	for _, tc := range []struct {
		drill  string
		slices int
	}{{"tar", 4}, {"copy", 5}, {"restic", 2}} {
		t.Run(tc.drill, func(t *testing.T) {
			var files, bytes int64
			largest := 0
			seen := map[int]bool{}
			for run := range tc.slices {
				clock = clock.Add(time.Hour)
				rec, err := r.Run(context.Background(), tc.drill)
				if err != nil || rec.Verdict != record.VerdictPass {
					t.Fatalf("run %d: %v, %s %q", run, err, rec.Verdict, rec.Reasons)
				}
				s := rec.Sample
				if s == nil || s.Slices != tc.slices || seen[s.Slice] {
					t.Fatalf("run %d: sample %+v; want a slice of %d not restored before (%v)", run, s, tc.slices, seen)
				}
				seen[s.Slice] = true
				if s.TotalFiles != 40 || s.TotalBytes != total {
					t.Errorf("run %d: totals %d files, %d bytes; the backup holds 40, %d", run, s.TotalFiles, s.TotalBytes, total)
				}
				if rec.Files == 0 || rec.Files == 40 {
					t.Errorf("run %d restored %d of 40 files: not a slice", run, rec.Files)
				}
				files += rec.Files
				bytes += rec.Bytes
				if rec.Bytes >= 3<<20 {
					largest++
				}
				c := coverage(tc.drill, clock)
				if run < tc.slices-1 && (c.SlicesProven != run+1 || c.Files >= 1 || c.Files <= 0) {
					t.Errorf("after run %d: coverage %s (%+v); want %d of %d slices, part of the files", run, c, c, run+1, tc.slices)
				}
			}
			// Sizes differ file by file: equal sums mean each file once.
			if files != 40 || bytes != total || largest != 1 {
				t.Errorf("%d runs restored %d files, %d bytes, the largest file %d times; the backup holds 40 files, %d bytes",
					tc.slices, files, bytes, largest, total)
			}
			if c := coverage(tc.drill, clock); c.Files != 1 || c.Bytes != 1 || c.SlicesProven != tc.slices {
				t.Errorf("after %d runs: coverage %s; want 100%%", tc.slices, c)
			}
			// The next run starts the rotation again.
			clock = clock.Add(time.Hour)
			if rec, err := r.Run(context.Background(), tc.drill); err != nil || rec.Verdict != record.VerdictPass {
				t.Fatalf("run %d: %v, %v", tc.slices, err, rec.Reasons)
			}
		})
	}
	// restic cuts the wide tree at its 64 directories: two runs restore
	// each directory once, whole.
	var wideFiles int64
	for run := range 2 {
		clock = clock.Add(time.Hour)
		rec, err := r.Run(context.Background(), "wide")
		if err != nil || rec.Verdict != record.VerdictPass || rec.Sample.Depth == 0 || rec.Sample.TotalFiles != 192 || rec.Files%3 != 0 {
			t.Fatalf("wide run %d: %v, %s %q, sample %+v, %d files", run, err, rec.Verdict, rec.Reasons, rec.Sample, rec.Files)
		}
		wideFiles += rec.Files
	}
	if c := coverage("wide", clock); wideFiles != 192 || c.Files != 1 || c.Bytes != 1 {
		t.Errorf("wide: %d files in two runs, coverage %s; want 192, 100%%", wideFiles, c)
	}

	// A backup of two files in ten slices: a run whose slice is empty
	// restores the next non-empty one, so every pass restored a file.
	got := map[int]bool{}
	for run := range 2 {
		clock = clock.Add(time.Hour)
		rec, err := r.Run(context.Background(), "tiny")
		if err != nil || rec.Verdict != record.VerdictPass || rec.Files != 1 || got[rec.Sample.Slice] {
			t.Fatalf("tiny run %d: %v, %s, %d files, slice %d (%v) %q", run, err, rec.Verdict, rec.Files, rec.Sample.Slice, got, rec.Reasons)
		}
		got[rec.Sample.Slice] = true
		t.Logf("tiny run %d: %s", run, rec.Details["sample"])
	}
	if c := coverage("tiny", clock); c.Files != 1 {
		t.Errorf("tiny: coverage %s after both non-empty slices passed", c)
	}

	// Eight days on, the early slices are outside review_every.
	if c := coverage("copy", clock.Add(8*24*time.Hour)); c.Files != 0 {
		t.Errorf("coverage with no pass in the window: %s", c)
	}
	if _, err := store.Verify(context.Background()); err != nil {
		t.Errorf("evidence: %v", err)
	}
}
