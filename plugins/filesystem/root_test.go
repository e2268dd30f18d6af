package filesystem

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

// The Root is the deepest folder reached from the top through folders
// holding exactly one entry, itself a real folder, whatever the order in
// which the entries come.
func TestRootChain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string // a trailing "/" marks a folder
		want    string
	}{
		{"tar of an absolute path", []string{"srv/", "srv/files/", "srv/files/a", "srv/files/sub/", "srv/files/sub/b"}, "srv/files"},
		{"the same, no folder entries", []string{"srv/files/sub/b", "srv/files/a"}, "srv/files"},
		{"tar -C parent name", []string{"files/", "files/a", "files/sub/b"}, "files"},
		{"tar -C src .", []string{"./", "a", "sub/", "sub/b"}, ""},
		{"several entries at the top", []string{"a/", "b/"}, ""},
		{"one file at the top", []string{"a"}, ""},
		{"a folder holding one file", []string{"srv/files/a"}, "srv/files"},
		{"a folder holding one folder goes on", []string{"srv/files/sub/", "srv/files/sub/b", "srv/files/sub/c"}, "srv/files/sub"},
		{"a folder holding one folder and a file stops", []string{"srv/files/sub/", "srv/files/sub/b", "srv/files/c"}, "srv/files"},
		{"an empty folder and a file", []string{"srv/files/empty/", "srv/files/a"}, "srv/files"},
		{"only empty folders down", []string{"srv/", "srv/files/"}, "srv/files"},
		{"a symlink is not a folder", []string{"srv"}, ""},
		{"a symlink in the folder", []string{"srv/files/link"}, "srv/files"},
		{"a file replacing a folder on the way", []string{"srv/files/sub/", "srv/files"}, "srv"},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c rootChain
			for _, e := range tc.entries {
				c.add(strings.TrimSuffix(e, "/"), strings.HasSuffix(e, "/"))
			}
			if got := c.root(); got != tc.want {
				t.Errorf("root of %q = %q, want %q", tc.entries, got, tc.want)
			}
		})
	}
}

// Archives made by the real tar and copies made by the real rsync and
// cp -a report the folder that was backed up as their Root; a sampled
// restore, which writes one slice, the Root of the whole.
func TestRestoreRoot(t *testing.T) {
	requireTool(t, "tar")
	dir := t.TempDir()
	src := filepath.Join(dir, "srv", "files")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "sub", "b.txt"), []byte("bravo\n"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "sub", "deeper", "c.txt"), []byte("charlie\n"), 0o644, baseTime)
	if err := os.Symlink("sub", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	if err := os.Mkdir(backups, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := func(name string, args ...string) string {
		p := filepath.Join(backups, name)
		run(t, "tar", append([]string{"-czf", p}, args...)...)
		return p
	}
	copied := func(name string, cmd ...string) string {
		p := filepath.Join(backups, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, cmd[0], append(cmd[1:], src, p+"/")...)
		return p
	}
	type point struct {
		src  plugins.Source
		id   string
		want string
	}
	points := map[string]point{
		"tar of the absolute path": {plugins.Source{"archive": filepath.Join(backups, "*.tgz")}, archive("abs.tgz", src), strings.TrimPrefix(src, "/")},
		"tar -C parent name":       {plugins.Source{"archive": filepath.Join(backups, "*.tgz")}, archive("named.tgz", "-C", filepath.Dir(src), "files"), "files"},
		"tar -C src .":             {plugins.Source{"archive": filepath.Join(backups, "*.tgz")}, archive("dot.tgz", "-C", src, "."), ""},
		"tar of one folder in it":  {plugins.Source{"archive": filepath.Join(backups, "*.tgz")}, archive("deep.tgz", "-C", src, "sub/deeper"), "sub/deeper"},
		"cp -a src dest/":          {plugins.Source{"path": filepath.Join(backups, "cp")}, copied("cp", "cp", "-a"), "files"},
	}
	if _, err := exec.LookPath("rsync"); err == nil {
		points["rsync -a src dest/"] = point{plugins.Source{"path": filepath.Join(backups, "rsync")}, copied("rsync", "rsync", "-a"), "files"}
		stamped := copied("stamped", "rsync", "-a")
		writeFile(t, filepath.Join(stamped, ".done"), nil, 0o644, baseTime)
		points["rsync -a src dest/ with a stamp beside it"] = point{plugins.Source{"path": stamped, "stamp": ".done"}, stamped, "files"}
	}
	for name, p := range points {
		t.Run(name, func(t *testing.T) {
			resp, _, _ := restore(t, p.src, p.id, 0)
			if len(resp.Problems) > 0 {
				t.Fatalf("problems: %s", problemsOf(resp.Problems))
			}
			if resp.Point.Root != p.want {
				t.Errorf("Root %q, want %q", resp.Point.Root, p.want)
			}
			for slice := range 3 {
				target := filepath.Join(t.TempDir(), "target")
				if err := os.Mkdir(target, 0o700); err != nil {
					t.Fatal(err)
				}
				resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{
					Source: p.src, PointID: p.id, Target: target, DrillName: "test",
					Sample: &plugins.Sample{Seed: "root", Slice: slice, Slices: 3},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Point.Root != p.want {
					t.Errorf("slice %d: Root %q, want %q", slice, resp.Point.Root, p.want)
				}
			}
		})
	}
}
