package restic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

func TestListedRoot(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/srv/files"}, "srv/files"},
		{[]string{"/srv/files/"}, "srv/files"},
		{[]string{"/"}, ""},
		{[]string{"/srv/a", "/srv/b"}, ""},
		{[]string{`C:\data`}, ""},
		{nil, ""},
	} {
		if got := listedRoot(tc.paths); got != tc.want {
			t.Errorf("listedRoot(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

// restoredRoot on trees laid out as restic restores them, and on trees
// where a symlink stands where the snapshot's path would be.
func TestRestoredRoot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tree  []string // folders end in "/"; "name -> target" is a symlink
		paths []string
		want  string
	}{
		{"an absolute path, stored whole", []string{"srv/files/a"}, []string{"/srv/files"}, "srv/files"},
		{"a relative path, stored by its last element", []string{"files/a"}, []string{"/srv/files"}, "files"},
		{"a backup of .: the files at the top", []string{"a", "sub/b"}, []string{"/srv/files"}, ""},
		{"a backup of . holding one file", []string{"a"}, []string{"/srv/files"}, ""},
		{"a backup of . holding one folder", []string{"sub/b"}, []string{"/srv/files"}, ""},
		{"a file, absolute", []string{"etc/hosts"}, []string{"/etc/hosts"}, "etc"},
		{"a file, relative", []string{"hosts"}, []string{"/etc/hosts"}, ""},
		{"several paths", []string{"srv/a/x", "srv/b/y"}, []string{"/srv/a", "/srv/b"}, ""},
		{"the path is a symlink", []string{"srv/", "srv/files -> /etc"}, []string{"/srv/files"}, ""},
		{"a symlink on the way", []string{"real/files/a", "srv -> real"}, []string{"/srv/files"}, ""},
		{"nothing restored", nil, []string{"/srv/files"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := t.TempDir()
			for _, e := range tc.tree {
				p := filepath.Join(target, e)
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				switch name, link, isLink := strings.Cut(e, " -> "); {
				case isLink:
					must(t, os.Symlink(link, filepath.Join(target, name)))
				case strings.HasSuffix(e, "/"):
					must(t, os.MkdirAll(p, 0o755))
				default:
					must(t, os.WriteFile(p, nil, 0o644))
				}
			}
			if got := restoredRoot(target, tc.paths); got != tc.want {
				t.Errorf("restoredRoot(%q) = %q, want %q", tc.paths, got, tc.want)
			}
		})
	}
}

// A restore's Root is where the snapshot's path is in the restored tree,
// however `restic backup` was given the path; the listed Root is the
// snapshot's path.
func TestRestoreRoot(t *testing.T) {
	// repoOf backs up "." in src: the "dot" snapshot, of host h1.
	src, r := repoOf(t, func(t *testing.T, src string) {
		must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
		must(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("bravo\n"), 0o644))
	})
	dir := filepath.Join(filepath.Dir(r), "src")
	abs := strings.TrimPrefix(dir, "/")
	for _, tc := range []struct {
		host, cwd string
		args      []string
		listed    string
		want      string
	}{
		{"h1", "", nil, abs, ""},
		{"abs", "/", []string{dir}, abs, abs},
		{"rel", filepath.Dir(dir), []string{"src"}, abs, "src"},
		{"file", "/", []string{filepath.Join(dir, "a.txt")}, abs + "/a.txt", abs},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if tc.args != nil {
				resticCmd(t, src, tc.cwd, append([]string{"backup", "--host", tc.host}, tc.args...)...)
			}
			hs := plugins.Source{"host": tc.host}
			for k, v := range src {
				hs[k] = v
			}
			b := New()
			list, err := b.ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: hs})
			if err != nil || len(list.Points) != 1 {
				t.Fatalf("list: %v, %+v", err, list)
			}
			if got := list.Points[0].Root; got != tc.listed {
				t.Errorf("listed Root %q, want %q", got, tc.listed)
			}
			target := t.TempDir()
			resp, err := b.Restore(context.Background(), &plugins.RestoreRequest{Source: hs, PointID: list.Points[0].ID, Target: target}, &rec{files: map[string][]byte{}})
			if err != nil || len(failsOf(resp)) > 0 {
				t.Fatalf("restore: %v, %q", err, failsOf(resp))
			}
			if got := resp.Point.Root; got != tc.want {
				t.Errorf("restored Root %q, want %q", got, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(target, tc.want, "a.txt")); err != nil {
				t.Errorf("a.txt is not below the Root: %v", err)
			}
		})
	}
	noLocks(t, r)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
