package drills

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/manifest"
)

// A restored tree whose paths are longer than PATH_MAX (4096 bytes) is
// reconciled like any other: the walk goes from descriptor to descriptor.
func TestReconcileDeeperThanPathMax(t *testing.T) {
	target := t.TempDir()
	dir, err := os.OpenRoot(target)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("n", 255)
	var rel []string
	for range 20 { // 20 * 256 bytes
		if err := dir.Mkdir(name, 0o700); err != nil {
			t.Fatal(err)
		}
		sub, err := dir.OpenRoot(name)
		if err != nil {
			t.Fatal(err)
		}
		_ = dir.Close()
		dir = sub
		rel = append(rel, name)
	}
	if err := dir.WriteFile("leaf", []byte("deep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dir.WriteFile("unreported", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = dir.Close()
	t.Cleanup(func() { _ = os.RemoveAll(target) })
	deep := strings.Join(rel, "/")
	if len(target)+len(deep) < 4096 {
		t.Fatalf("the tree is not deeper than PATH_MAX: %d bytes", len(target)+len(deep))
	}

	o := &outcome{}
	files := []reported{{Entry: manifest.Entry{Path: deep + "/leaf", Size: 4}, hashed: true}}
	todo, err := reconcile(target, files, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.fails) > 0 || len(o.errs) > 0 {
		t.Errorf("fails %q, errors %q", o.fails, o.errs)
	}
	if len(todo) != 1 || todo[0] != deep+"/unreported" {
		t.Errorf("unreported %q, want the deep file", todo)
	}

	// A size that differs is still found at that depth.
	files[0].Size = 5
	if _, err := reconcile(target, files, o); err != nil {
		t.Fatal(err)
	}
	if len(o.fails) != 1 || !strings.Contains(o.fails[0], "has 4 bytes on disk, the backend reported 5") {
		t.Errorf("fails %q, want the size difference", o.fails)
	}
}

// The paths check never follows a symlink in the middle of a path: a
// restored "home -> <a host directory>" holding alice/docs does not make
// home/alice/docs present (before, it passed on the host's live files).
// A symlink as the last component is there, and plain directories pass.
func TestPathsCheckNoSymlinks(t *testing.T) {
	host := t.TempDir() // stands for the host's /home
	must(t, os.MkdirAll(filepath.Join(host, "alice", "docs"), 0o755))
	target := t.TempDir()
	must(t, os.Symlink(host, filepath.Join(target, "home")))
	must(t, os.MkdirAll(filepath.Join(target, "srv", "www"), 0o755))
	must(t, os.Symlink("www", filepath.Join(target, "srv", "current")))
	must(t, os.Symlink("srv", filepath.Join(target, "rel")))
	must(t, os.WriteFile(filepath.Join(target, "srv", "file"), nil, 0o644))

	for _, tc := range []struct {
		path   string
		ok     bool
		detail string
	}{
		{"srv/www", true, "all 1 paths present"},
		{"/srv/www/", true, "all 1 paths present"},
		{"srv/current", true, "all 1 paths present"}, // the link itself was restored
		{"home", true, "all 1 paths present"},
		{"home/alice/docs", false, `missing from the restore: "home/alice/docs" (its component "home" is a symlink in the restore; drill never follows one)`},
		{"rel/www", false, `missing from the restore: "rel/www" (its component "rel" is a symlink in the restore; drill never follows one)`},
		{"srv/current/x", false, `missing from the restore: "srv/current/x" (its component "srv/current" is a symlink in the restore; drill never follows one)`},
		{"srv/file/x", false, `missing from the restore: "srv/file/x"`},
		{"srv/none", false, `missing from the restore: "srv/none"`},
	} {
		d := &config.Drill{Checks: config.Checks{Paths: []string{tc.path}}}
		o := &outcome{}
		checks := fileChecks(d, &evidence.Record{}, target, "", &manifest.Manifest{}, o)
		if len(checks) != 1 || checks[0].OK != tc.ok || checks[0].Detail != tc.detail {
			t.Errorf("paths [%s]: got %+v, want ok %v, detail %q", tc.path, checks, tc.ok, tc.detail)
		}
		if tc.ok != (len(o.fails) == 0) {
			t.Errorf("paths [%s]: fails %q", tc.path, o.fails)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
