package filesystem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// recorder is a RestoreEvents that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	files    []plugins.File
	progress []plugins.Progress
	calls    int // Files calls
	// onFiles, when set, is called with each batch; its error is returned.
	onFiles func([]plugins.File) error
}

func (r *recorder) Progress(p plugins.Progress) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
	return nil
}

func (r *recorder) Files(files []plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.files = append(r.files, files...)
	if r.onFiles != nil {
		return r.onFiles(files)
	}
	return nil
}

func (r *recorder) Scratch(string) error { return nil }

// digests returns the reported digests by path, failing on a path
// reported twice.
func (r *recorder) digests(t *testing.T) map[string]string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]string{}
	for _, f := range r.files {
		if _, dup := m[f.Path]; dup {
			t.Errorf("file %q reported twice", f.Path)
		}
		m[f.Path] = hex.EncodeToString(f.SHA256)
	}
	return m
}

// requireTool skips the test when a real tool it needs is missing, except
// in CI, where every test must run.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
}

// run runs a real command and fails the test if it fails.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// sha256File is an independent digest of a file, read whole.
func sha256File(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// writeFile writes a file with the given mode and mtime.
func writeFile(t testing.TB, path string, data []byte, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// makeTree builds a small tree with what a real backup has: nested
// directories with their own modes and mtimes, an empty file, a file that
// spans several pipeline chunks, a relative symlink, and names with a
// newline and invalid UTF-8. Times are whole seconds, which every tar
// format keeps.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3*chunkSize+12345)
	for i := range big {
		big[i] = byte(rng.IntN(7)) + 'a' // compressible, not trivial
	}
	unlockOnCleanup(t, dir)
	writeFile(t, filepath.Join(dir, "etc/app.conf"), []byte("listen = :8080\n"), 0o640, baseTime)
	writeFile(t, filepath.Join(dir, "bin/tool"), []byte("#!/bin/sh\necho hi\n"), 0o755, baseTime.Add(-time.Hour))
	writeFile(t, filepath.Join(dir, "data/empty"), nil, 0o600, baseTime.Add(-2*time.Hour))
	writeFile(t, filepath.Join(dir, "data/big.bin"), big, 0o644, baseTime.Add(-3*time.Hour))
	writeFile(t, filepath.Join(dir, "odd/new\nline"), []byte("newline\n"), 0o644, baseTime)
	writeFile(t, filepath.Join(dir, "odd/bad\xffutf8"), []byte("latin1\n"), 0o644, baseTime)
	if err := os.Symlink("../etc/app.conf", filepath.Join(dir, "data/conf-link")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		rel   string
		mode  fs.FileMode
		mtime time.Time
	}{
		{"etc", 0o750, baseTime.Add(-24 * time.Hour)},
		{"bin", 0o755, baseTime.Add(-48 * time.Hour)},
		{"data", 0o700, baseTime.Add(-72 * time.Hour)},
		{"odd", 0o555, baseTime.Add(-96 * time.Hour)},
	} {
		p := filepath.Join(dir, d.rel)
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, d.mtime, d.mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRestored compares a restored tree with its source: the same
// entries, contents, modes, mtimes and symlink targets, and the reported
// digests equal an independent SHA-256 of each source file.
func checkRestored(t *testing.T, src, target string, rec *recorder) {
	t.Helper()
	digests := rec.digests(t)
	var wantFiles []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		want, err := os.Lstat(p)
		if err != nil {
			return err
		}
		got, err := os.Lstat(filepath.Join(target, rel))
		if err != nil {
			t.Errorf("%q not restored: %v", rel, err)
			return nil
		}
		if got.Mode().Type() != want.Mode().Type() {
			t.Errorf("%q: got type %v, want %v", rel, got.Mode().Type(), want.Mode().Type())
			return nil
		}
		switch {
		case want.Mode()&fs.ModeSymlink != 0:
			gotLink, _ := os.Readlink(filepath.Join(target, rel))
			wantLink, _ := os.Readlink(p)
			if gotLink != wantLink {
				t.Errorf("symlink %q: got target %q, want %q", rel, gotLink, wantLink)
			}
			return nil
		case want.Mode().IsRegular():
			wantFiles = append(wantFiles, filepath.ToSlash(rel))
			wantSum := sha256File(t, p)
			if got := sha256File(t, filepath.Join(target, rel)); got != wantSum {
				t.Errorf("%q: restored content has digest %s, want %s", rel, got, wantSum)
			}
			if got := digests[filepath.ToSlash(rel)]; got != wantSum {
				t.Errorf("%q: reported digest %s, want %s", rel, got, wantSum)
			}
		}
		if got, want := got.Mode().Perm(), want.Mode().Perm(); got != want {
			t.Errorf("%q: got mode %v, want %v", rel, got, want)
		}
		if got, want := got.ModTime(), want.ModTime(); !got.Equal(want) {
			t.Errorf("%q: got mtime %v, want %v", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var gotFiles []string
	for p := range digests {
		gotFiles = append(gotFiles, p)
	}
	slices.Sort(gotFiles)
	slices.Sort(wantFiles)
	if !slices.Equal(gotFiles, wantFiles) {
		t.Errorf("reported files %q, want %q", gotFiles, wantFiles)
	}
}

// restore runs a restore of pointID into a fresh target inside its own
// sandbox directory, and returns the response, the events and the target.
func restore(t testing.TB, src plugins.Source, pointID string, maxBytes int64) (*plugins.RestoreResponse, *recorder, string) {
	t.Helper()
	sandbox := t.TempDir()
	unlockOnCleanup(t, sandbox)
	target := filepath.Join(sandbox, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{
		Source: src, PointID: pointID, Target: target, MaxBytes: maxBytes, DrillName: "test",
	}, rec)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return resp, rec, target
}

// newestWritten is the newest writtenTime of dir and every entry below
// it, found with filepath.WalkDir and os.Lstat.
func newestWritten(t testing.TB, dir string) time.Time {
	t.Helper()
	var newest time.Time
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if w := writtenTime(fi); w.After(newest) {
			newest = w
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return newest
}

// problemsOf renders problems one per line, for failure messages.
func problemsOf(ps []plugins.Problem) string {
	var b bytes.Buffer
	for _, p := range ps {
		b.WriteString("\n\t" + string(p.Kind) + " " + p.Path + ": " + p.Message)
	}
	return b.String()
}

// onlyEntries fails unless dir holds exactly the named entries.
func onlyEntries(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

// pointsEqual compares restore points, times by the instant.
func pointsEqual(a, b []plugins.RestorePoint) bool {
	return slices.EqualFunc(a, b, func(x, y plugins.RestorePoint) bool {
		return x.ID == y.ID && x.Time.Equal(y.Time) && x.Size == y.Size && x.Files == y.Files && x.Description == y.Description &&
			x.TimeBasis == y.TimeBasis && x.Root == y.Root
	})
}

// unlockOnCleanup makes every directory below dir writable again before
// the test's temporary directories are removed, for runs as a user other
// than root: restores keep modes such as 0555.
func unlockOnCleanup(t testing.TB, dir string) {
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				_ = os.Chmod(p, 0o700)
			}
			return nil
		})
	})
}
