package filesystem

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// statInfo is an fs.FileInfo with the times a test chooses, as lstat
// would give it.
type statInfo struct {
	name         string
	mode         fs.FileMode
	mtime, ctime time.Time
}

func (s statInfo) Name() string       { return s.name }
func (s statInfo) Size() int64        { return 1 }
func (s statInfo) Mode() fs.FileMode  { return s.mode }
func (s statInfo) ModTime() time.Time { return s.mtime }
func (s statInfo) IsDir() bool        { return s.mode.IsDir() }
func (s statInfo) Sys() any {
	return &syscall.Stat_t{Ctim: syscall.NsecToTimespec(s.ctime.UnixNano())}
}

// TestTreeSummaryNewestCtime dates a copy by the newest ctime of any
// entry, whatever its mtimes say: a copy made a minute ago of data
// unchanged for 95 days is a minute old, and a copy nothing has written
// to for 95 days is 95 days old, however new the data it holds.
func TestTreeSummaryNewestCtime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-95 * 24 * time.Hour)
	tests := []struct {
		name    string
		entries []statInfo
		want    time.Time
	}{
		{
			name: "cp -a a minute ago of old data",
			entries: []statInfo{
				{"copy", fs.ModeDir | 0o755, old, now.Add(-time.Minute)},
				{"a", 0o644, old, now.Add(-time.Minute - time.Second)},
				{"sub", fs.ModeDir | 0o755, old, now.Add(-time.Minute)},
			},
			want: now.Add(-time.Minute),
		},
		{
			name: "a file deleted since: its directory was written then",
			entries: []statInfo{
				{"copy", fs.ModeDir | 0o755, old, now.Add(-time.Hour)},
				{"sub", fs.ModeDir | 0o755, now.Add(-time.Minute), now.Add(-time.Minute)},
				{"sub/a", 0o644, old, now.Add(-time.Hour)},
			},
			want: now.Add(-time.Minute),
		},
		{
			name: "a copy last written 95 days ago",
			entries: []statInfo{
				{"copy", fs.ModeDir | 0o755, old, old},
				{"a", 0o644, old.Add(-time.Hour), old.Add(-time.Second)},
			},
			want: old,
		},
		{
			name: "an mtime set into the future counts for nothing",
			entries: []statInfo{
				{"copy", fs.ModeDir | 0o755, old, old},
				{"a", 0o644, now.Add(24 * time.Hour), old},
				{"link", fs.ModeSymlink | 0o777, old, old.Add(time.Second)},
			},
			want: old.Add(time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum treeSummary
			for _, e := range tt.entries {
				sum.add(e)
			}
			if !sum.newest.Equal(tt.want) {
				t.Errorf("newest %v, want %v", sum.newest, tt.want)
			}
		})
	}
}

// TestListRestorePointsFreshCopyOfOldData lists real copies of a tree
// whose files and folders were last modified 95 days ago, made just now
// with cp -a and rsync -a (which keep those mtimes): each is dated by when
// it was written, and so is one from which a file was deleted later.
func TestListRestorePointsFreshCopyOfOldData(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	old := time.Now().Add(-95 * 24 * time.Hour).Truncate(time.Second)
	writeFile(t, filepath.Join(src, "docs/report.txt"), []byte("report"), 0o644, old)
	writeFile(t, filepath.Join(src, "docs/old/notes.txt"), []byte("notes"), 0o644, old)
	writeFile(t, filepath.Join(src, "top.txt"), []byte("top"), 0o644, old)
	for _, d := range []string{"docs/old", "docs", "."} {
		if err := os.Chtimes(filepath.Join(src, d), old, old); err != nil {
			t.Fatal(err)
		}
	}
	tools := [][]string{ // rsync is one of the Makefile's TEST_TOOLS
		{"cp", "-a", src, filepath.Join(dir, "cp")},
		{"rsync", "-a", src + "/", filepath.Join(dir, "rsync")},
	}
	list := func(t *testing.T, copy string) plugins.RestorePoint {
		t.Helper()
		resp, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: plugins.Source{"path": copy}})
		if err != nil || len(resp.Points) != 1 {
			t.Fatalf("ListRestorePoints: %+v, %v; want one point", resp, err)
		}
		return resp.Points[0]
	}
	for _, tool := range tools {
		t.Run(tool[0], func(t *testing.T) {
			copy := filepath.Join(dir, tool[0])
			before := time.Now().Add(-time.Second) // ctimes come from a coarse clock
			if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool, err, out)
			}
			after := time.Now().Add(time.Second)
			if fi, err := os.Stat(filepath.Join(copy, "docs/report.txt")); err != nil || !fi.ModTime().Equal(old) {
				t.Fatalf("the copy's file: %v, %v; want the source's mtime %v", fi, err, old)
			}
			p := list(t, copy)
			if p.Time.Before(before) || p.Time.After(after) || p.TimeBasis != plugins.BasisNewestCtime {
				t.Errorf("copy dated %v (%s), want between %v and %v (newest ctime)", p.Time, p.TimeBasis, before, after)
			}
			if want := newestWritten(t, copy); !p.Time.Equal(want) {
				t.Errorf("copy dated %v, want the newest ctime in it, %v", p.Time, want)
			}
			resp, _, _ := restore(t, plugins.Source{"path": copy}, copy, 0)
			if !resp.Point.Time.Equal(p.Time) || resp.Point.TimeBasis != p.TimeBasis {
				t.Errorf("restore dated the copy %v (%s), the listing %v (%s)", resp.Point.Time, resp.Point.TimeBasis, p.Time, p.TimeBasis)
			}

			time.Sleep(20 * time.Millisecond) // past the clock's tick
			if err := os.Remove(filepath.Join(copy, "docs/old/notes.txt")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(copy, "docs/old"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := list(t, copy).Time, writtenTime(fi); !got.Equal(want) || !want.After(p.Time) {
				t.Errorf("after a deletion the copy is dated %v, want the deletion's %v (after %v)", got, want, p.Time)
			}
		})
	}
}

// TestListRestorePointsCopyWrittenLast picks, among copies of the same
// unchanged data, the one written last, though cp -a gave them all the
// same mtime and its name sorts first.
func TestListRestorePointsCopyWrittenLast(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	old := time.Now().Add(-95 * 24 * time.Hour).Truncate(time.Second)
	writeFile(t, filepath.Join(src, "f"), []byte("f"), 0o644, old)
	if err := os.Chtimes(src, old, old); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"copy-tue", "copy-mon"} { // Monday's is the newer copy
		if out, err := exec.Command("cp", "-a", src, filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Fatalf("cp -a: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond) // past the clock's tick
	}
	resp, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: plugins.Source{"path": filepath.Join(dir, "copy-*")}})
	if err != nil || len(resp.Points) != 1 {
		t.Fatalf("ListRestorePoints: %+v, %v; want one point", resp, err)
	}
	if got, want := resp.Points[0].ID, filepath.Join(dir, "copy-mon"); got != want {
		t.Errorf("picked %s, want the copy written last, %s", got, want)
	}
}
