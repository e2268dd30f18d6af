package drills

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
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

	files := []reported{{Entry: manifest.Entry{Path: deep + "/leaf", Size: 4}, hashed: true}}
	todo, mismatches, err := reconcile(target, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(mismatches) > 0 {
		t.Errorf("mismatches %q", mismatches)
	}
	if len(todo) != 1 || todo[0] != deep+"/unreported" {
		t.Errorf("unreported %q, want the deep file", todo)
	}

	// A size that differs is still found at that depth.
	files[0].Size = 5
	_, mismatches, err = reconcile(target, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(mismatches) != 1 || !strings.Contains(mismatches[0], "has 4 bytes on disk, the backend reported 5") {
		t.Errorf("mismatches %q, want the size difference", mismatches)
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
		checks, reasons := runFileChecks(t, config.Checks{Paths: []string{tc.path}}, &record.Record{}, restoredTree{target: target, got: &manifest.Manifest{}})
		if len(checks) != 1 || checks[0].OK != tc.ok || checks[0].Detail != tc.detail {
			t.Errorf("paths [%s]: got %+v, want ok %v, detail %q", tc.path, checks, tc.ok, tc.detail)
		}
		if tc.ok != (len(reasons) == 0) {
			t.Errorf("paths [%s]: reasons %q", tc.path, reasons)
		}
	}
}

// runFileChecks runs the checks of a files drill over the tree as the
// check step does (reading the reference manifest c names) and returns
// them with the fail reasons verdict gives them.
func runFileChecks(t *testing.T, c config.Checks, rec *record.Record, tree restoredTree) ([]record.Check, []string) {
	t.Helper()
	var ref *manifest.Manifest
	if c.Manifest != "" {
		var err error
		if ref, err = manifest.ParseFile(c.Manifest); err != nil {
			t.Fatal(err)
		}
	}
	checks := fileChecks(c, rec, tree, ref)
	v, reasons := verdict(findings{checks: checks, restored: true})
	if v != record.VerdictPass && v != record.VerdictFail {
		t.Fatalf("verdict %s (%q) from checks alone", v, reasons)
	}
	return checks, reasons
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		root, entry, want string
		ok                bool
	}{
		{"", "a/b", "a/b", true},
		{"", "/a/b/", "a/b", true},
		{"srv/files", "a.txt", "srv/files/a.txt", true},
		{"srv/files", "./sub/b", "srv/files/sub/b", true},
		{"srv/files", ".", "srv/files", true},
		{"srv/files", "/srv/files/a.txt", "srv/files/a.txt", true}, // absolute: from the top
		{"srv/files", "/etc/hosts", "etc/hosts", true},
		{"srv/files", "/", ".", true},
		{"srv/files", "../other", "srv/other", true},
		{"srv/files", "../../../x", "", false},
		{"", "a/../..", "", false},
		{"", "/../x", "", false},
	} {
		got, ok := resolve(tc.root, tc.entry)
		if got != tc.want || ok != tc.ok {
			t.Errorf("resolve(%q, %q) = %q, %v; want %q, %v", tc.root, tc.entry, got, ok, tc.want, tc.ok)
		}
	}
}

// rootedTree makes a restored tree as a restic snapshot of /srv/files
// leaves it (target/srv/files/...), and returns it with its manifest.
func rootedTree(t *testing.T) (string, *manifest.Manifest) {
	t.Helper()
	target := t.TempDir()
	files := filepath.Join(target, "srv", "files")
	must(t, os.MkdirAll(filepath.Join(files, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(files, "a.txt"), []byte("alpha\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(files, "sub", "b.txt"), []byte("bravo\n"), 0o644))
	must(t, os.Symlink("sub", filepath.Join(files, "link")))
	got, err := manifest.HashTree(t.Context(), target, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return target, got
}

// writeRef writes a reference manifest of the given lines and returns its path.
func writeRef(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ref.sha256")
	must(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return p
}

// sha256Line is the line sha256sum prints for a file of content named name.
func sha256Line(t *testing.T, content, name string) string {
	t.Helper()
	m := &manifest.Manifest{Entries: []manifest.Entry{{Path: "x", SHA256: sha256.Sum256([]byte(content))}}}
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "x\n") + name
}

// Manifest and paths entries are looked up relative to the restore
// point's Root, absolute ones from the top of the restore, and reasons
// name them as the manifest and config wrote them.
func TestFileChecksRoot(t *testing.T) {
	target, got := rootedTree(t)
	a, b := sha256Line(t, "alpha\n", "a.txt"), sha256Line(t, "bravo\n", "./sub/b.txt")
	absA := sha256Line(t, "alpha\n", "/srv/files/a.txt")
	for _, tc := range []struct {
		name     string
		root     string
		checks   config.Checks
		ok       bool
		details  []string
		special  string // details skipped_special
		failures []string
	}{
		{name: "a manifest made in the backed-up folder passes with the root",
			root: "srv/files", checks: config.Checks{Manifest: writeRef(t, a, b)}, ok: true,
			details: []string{"all 2 files in", "restored with the listed sha256 (names relative to /srv/files)"}},
		{name: "absolute names are taken from the top of the restore",
			root: "srv/files", checks: config.Checks{Manifest: writeRef(t, absA, b)}, ok: true},
		{name: "absolute names with no root",
			checks: config.Checks{Manifest: writeRef(t, absA)}, ok: true},
		{name: "a manifest made elsewhere says where names were looked up",
			root: "srv/files", checks: config.Checks{Manifest: writeRef(t, sha256Line(t, "alpha\n", "other/a.txt"), sha256Line(t, "bravo\n", "other/sub/b.txt"))},
			failures: []string{`missing from the restore: "other/a.txt", "other/sub/b.txt" (none was found: names are looked up relative to /srv/files of the restore point (else from a folder above it, up to its top), absolute ones from its top; was the manifest made in another folder?)`}},
		{name: "names not below the root are looked up from the folders above it",
			root: "srv/files", checks: config.Checks{Manifest: writeRef(t, sha256Line(t, "alpha\n", "files/a.txt"), sha256Line(t, "bravo\n", "srv/files/sub/b.txt"))}, ok: true},
		{name: "a root one folder too deep still finds names written from the folder above",
			root: "srv/files/sub", checks: config.Checks{Manifest: writeRef(t, a, b, sha256Line(t, "bravo\n", "b.txt"))}, ok: true},
		{name: "with a guessed root, missing and damaged files are named as written",
			root: "srv/files/sub", checks: config.Checks{Manifest: writeRef(t, sha256Line(t, "alpha, damaged\n", "a.txt"), b, sha256Line(t, "charlie\n", "./sub/c.txt"))},
			failures: []string{`1 file(s) restored with content that differs from`, `: "a.txt"`, `1 file(s) listed in`, `missing from the restore: "sub/c.txt"`}},
		{name: "paths below the root, above it and at the top",
			root: "srv/files/sub", checks: config.Checks{Paths: []string{"b.txt", "sub", "./a.txt", "srv/files", "files/link"}}, ok: true,
			details: []string{"all 5 paths present"}},
		{name: "missing paths are named as written whatever the root",
			root: "srv/files/sub", checks: config.Checks{Paths: []string{"c.txt", "sub/c.txt", "link/b.txt"}},
			failures: []string{`missing from the restore: "c.txt", "sub/c.txt", "link/b.txt"`}},
		{name: "without the root the same manifest misses every file, and says where it looked",
			checks:   config.Checks{Manifest: writeRef(t, a, b)},
			failures: []string{`2 file(s) listed in`, `missing from the restore: "a.txt", "sub/b.txt" (none was found: names are looked up from the top of the restore point; was the manifest made in another folder?)`}},
		{name: "a damaged and a missing file are named as the manifest names them",
			root: "srv/files", checks: config.Checks{Manifest: writeRef(t, sha256Line(t, "alpha, damaged\n", "a.txt"), b, sha256Line(t, "charlie\n", "./c.txt"), sha256Line(t, "delta\n", "/srv/files/d.txt"))},
			failures: []string{`1 file(s) restored with content that differs from`, `: "a.txt"`, `2 file(s) listed in`, `missing from the restore: "c.txt", "/srv/files/d.txt"`}},
		{name: "paths relative to the root, absolute and leaving it",
			root: "srv/files", checks: config.Checks{Paths: []string{"sub", "./a.txt", "/srv/files/sub/b.txt", "../files/a.txt", "link"}}, ok: true,
			details: []string{"all 5 paths present (names relative to /srv/files)"}},
		{name: "missing paths and symlinked components are named as written",
			root: "srv/files", checks: config.Checks{Paths: []string{"c.txt", "/srv/files/sub/c", "link/b.txt", "../../../../etc"}},
			failures: []string{`missing from the restore: "c.txt", "/srv/files/sub/c", "link/b.txt" (its component "link" is a symlink in the restore; drill never follows one), "../../../../etc" (outside the restore)`}},
		{name: "a missing path when special files were skipped says so",
			checks: config.Checks{Paths: []string{"fifo"}}, special: "1",
			failures: []string{`missing from the restore: "fifo"; 1 special files of the backup (FIFOs, sockets, devices) were not restored, on purpose: if a path names one, name a regular file or folder instead`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &record.Record{Details: map[string]string{"skipped_special": tc.special}}
			checks, fails := runFileChecks(t, tc.checks, rec, restoredTree{target: target, root: tc.root, got: got})
			if len(checks) != 1 || checks[0].OK != tc.ok || tc.ok != (len(fails) == 0) {
				t.Fatalf("got checks %+v, fails %q; want ok %v", checks, fails, tc.ok)
			}
			for _, want := range tc.details {
				if !strings.Contains(checks[0].Detail, want) {
					t.Errorf("detail %q, want it to contain %q", checks[0].Detail, want)
				}
			}
			all := strings.Join(fails, "\n")
			for _, want := range tc.failures {
				if !strings.Contains(all, want) {
					t.Errorf("fails %q, want one containing %q", fails, want)
				}
			}
			if strings.Contains(all, "srv/files/a.txt") || strings.Contains(all, "srv/files/c.txt") {
				t.Errorf("fails %q name a file by its path in the restore, not as written", fails)
			}
		})
	}
}

// A sampled drill checks the entries whose path in the restore, under the
// root, is in its slice: the backend sampled the restore's paths.
func TestFileChecksRootSampled(t *testing.T) {
	target, got := rootedTree(t)
	s := &record.Sample{Seed: "s", Slice: 0, Slices: 3}
	ps := &plugins.Sample{Seed: s.Seed, Slice: s.Slice, Slices: s.Slices}
	// in: in the slice by its path in the restore, not by its bare name;
	// out: the other way round. Neither was restored.
	var in, out string
	for i := 0; in == "" || out == ""; i++ {
		if i == 1000 {
			t.Fatal("no names found that the root moves in and out of the slice")
		}
		n := fmt.Sprintf("f%d", i)
		rooted, bare := ps.Has("srv/files/"+n), ps.Has(n)
		switch {
		case rooted && !bare && in == "":
			in = n
		case !rooted && bare && out == "":
			out = n
		}
	}
	rec := &record.Record{Sample: s}
	c := config.Checks{
		Manifest: writeRef(t, sha256Line(t, "x", in), sha256Line(t, "y", out)),
		Paths:    []string{in, out},
	}
	checks, fails := runFileChecks(t, c, rec, restoredTree{target: target, root: "srv/files", got: got})
	if len(checks) != 2 || checks[0].OK || checks[1].OK {
		t.Fatalf("got checks %+v, want paths and manifest failing", checks)
	}
	want := []string{
		fmt.Sprintf(`check paths: missing from the restore: %q`, in),
		fmt.Sprintf(`check manifest: 1 file(s) listed in %s missing from the restore: %q`, c.Manifest, in),
	}
	if !slices.Equal(fails, want) {
		t.Errorf("fails %q\nwant %q", fails, want)
	}
}
