package restic

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbuild"
	"github.com/drillhq/drill/plugins/plugintest"
)

// resticBin is the restic pinned in tools/go.mod, built once for these tests.
var resticBin string

func TestMain(m *testing.M) {
	plugintest.ServePlugin(New) // when run as a plugin process (TestConformance/confined)
	if testbuild.FuzzWorker() {
		os.Exit(m.Run()) // the fuzz targets need no restic
	}
	dir, err := os.MkdirTemp("", "drill-restic-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resticBin = filepath.Join(dir, "restic")
	// restic is pinned in the tools module, not in drill's own go.mod.
	build := exec.Command("go", "build", "-modfile=../../tools/go.mod", "-o", resticBin, "github.com/restic/restic/cmd/restic")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the pinned restic:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// repoOf makes a repository holding one snapshot of the tree build makes
// in src, and returns its source.
func repoOf(t *testing.T, build func(t *testing.T, src string)) (plugins.Source, string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	build(t, src)
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := filepath.Join(dir, "repo")
	for _, args := range [][]string{{"init"}, {"backup", "--host", "h1", "."}} {
		cmd := exec.Command(resticBin, append([]string{"-r", r, "--password-file", pw, "-q"}, args...)...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	return plugins.Source{"repository": r, "password_file": pw, "restic_binary": resticBin}, r
}

// repo makes a real restic repository holding one snapshot of a small
// tree, and returns its source.
func repo(t *testing.T) (plugins.Source, string, map[string]string) {
	t.Helper()
	files := map[string]string{"a.txt": "alpha\n", "sub/b.bin": strings.Repeat("bravo", 50000), "new\nline": "odd name"}
	src, r := repoOf(t, func(t *testing.T, src string) {
		for p, c := range files {
			full := filepath.Join(src, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	return src, r, files
}

type rec struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (r *rec) Progress(plugins.Progress) error { return nil }
func (r *rec) Files(fs []plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		r.files[f.Path] = f.SHA256
	}
	return nil
}

func (r *rec) Scratch(string) error { return nil }

func restore(t *testing.T, src plugins.Source) (*plugins.RestoreResponse, *rec, error) {
	t.Helper()
	b := New()
	ctx := context.Background()
	list, err := b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		return nil, nil, err
	}
	if len(list.Points) == 0 {
		t.Fatal("no snapshot listed")
	}
	ev := &rec{files: map[string][]byte{}}
	resp, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: t.TempDir()}, ev)
	return resp, ev, err
}

func noLocks(t *testing.T, repo string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(repo, "locks"))
	if len(ents) != 0 {
		t.Errorf("repository %s has %d locks left", repo, len(ents))
	}
}

func TestRestoreIntact(t *testing.T) {
	src, r, files := repo(t)
	resp, ev, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Problems) != 0 {
		t.Fatalf("problems: %+v", resp.Problems)
	}
	var got, want []string
	for p, sum := range ev.files {
		got = append(got, fmt.Sprintf("%s %x", p, sum))
	}
	for p, c := range files {
		want = append(want, fmt.Sprintf("%s %x", p, sha256.Sum256([]byte(c))))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reported files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	noLocks(t, r)
}

func TestRestoreWrongPasswordAndMissingRepo(t *testing.T) {
	src, r, _ := repo(t)
	bad := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(bad, []byte("not-the-password-xyzzy"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		src  plugins.Source
		want string
	}{
		"wrong password": {plugins.Source{"repository": r, "password_file": bad, "restic_binary": resticBin}, "wrong password for repository " + r},
		"missing repo":   {plugins.Source{"repository": r + "-nope", "password_file": src["password_file"], "restic_binary": resticBin}, "does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: tc.src})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "correct horse") || strings.Contains(err.Error(), "xyzzy")) {
				t.Errorf("a password leaked into %v", err)
			}
		})
	}
	noLocks(t, r)
}

// A flipped byte in a data pack is damage restic reports only while
// restoring: the restore must fail, whatever the tree looks like.
func TestRestoreDamagedPack(t *testing.T) {
	src, r, _ := repo(t)
	var biggest string
	var size int64
	_ = filepath.Walk(filepath.Join(r, "data"), func(p string, fi os.FileInfo, err error) error { // fn never stops it
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
		return nil
	})
	b, _ := os.ReadFile(biggest)
	b[len(b)/3] ^= 0xff
	if err := os.Chmod(biggest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(biggest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, _, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	var fails []string
	for _, p := range resp.Problems {
		if p.Kind == plugins.ProblemFail {
			fails = append(fails, p.Message)
		}
	}
	if len(fails) == 0 || !strings.Contains(strings.Join(fails, "\n"), "restic") {
		t.Errorf("a damaged pack gave no fail problem: %+v", resp.Problems)
	}
	t.Logf("problems: %q", fails)
	noLocks(t, r)
}

func TestConformance(t *testing.T) {
	src, r, files := repo(t)
	defer noLocks(t, r)
	plugintest.Suite{
		Launch:    func(t *testing.T) plugins.Backend { return plugintest.GRPCBackend(t, New()) },
		Good:      src,
		WantFiles: int64(len(files)),
	}.Run(t)
	// As drill runs it: a plugin process confined with Landlock to the
	// repository (its locks folder writable), the password file, the
	// restic executable and its scratch directory.
	t.Run("confined", func(t *testing.T) {
		plugintest.Suite{
			Launch:    func(t *testing.T) plugins.Backend { return plugintest.Process(t, Name) },
			Good:      src,
			WantFiles: int64(len(files)),
			Confine:   true,
		}.Run(t)
		// A plugin process closed after ListRestorePoints leaves the
		// snapshot's listing (restic ls) to the SIGINT its death sends
		// restic, which then removes its lock: give it the moment.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ents, _ := os.ReadDir(filepath.Join(r, "locks")); len(ents) == 0 {
				break
			}
		}
	})
}

// A snapshot lists its size and file count from the summary restic (0.17
// and newer) writes into it, so that the runner can tell before a restore
// whether it fits the scratch space.
func TestListSnapshotSize(t *testing.T) {
	src, _, files := repo(t)
	list, err := New().ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, c := range files {
		size += int64(len(c))
	}
	if len(list.Points) != 1 || list.Points[0].Size != size || list.Points[0].Files != int64(len(files)) {
		t.Fatalf("points %+v, want one of %d files, %d bytes", list.Points, len(files), size)
	}
}
