package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// TestRestoreDirectoryCopy copies a directory copy and compares the result
// with it: contents, digests, modes, mtimes, symlinks, odd names.
func TestRestoreDirectoryCopy(t *testing.T) {
	src := filepath.Join(t.TempDir(), "daily.0")
	makeTree(t, src)
	resp, rec, target := restore(t, plugins.Source{"path": src}, src, 0)
	if len(resp.Problems) > 0 {
		t.Fatalf("problems: %s", problemsOf(resp.Problems))
	}
	checkRestored(t, src, target, rec)
	if got := resp.Details["format"]; got != "directory" {
		t.Errorf("format %q, want directory", got)
	}
	var size int64
	for _, f := range rec.files {
		size += f.Size
	}
	// The backup time is when the copy was last written: the newest
	// ctime of any entry, the top included (ctime_linux_test.go shows
	// that it is the ctime, not the mtime).
	want := plugins.RestorePoint{ID: src, Time: newestWritten(t, src), Size: size, Files: 6, Description: "daily.0", TimeBasis: copyBasis}
	if !pointsEqual([]plugins.RestorePoint{resp.Point}, []plugins.RestorePoint{want}) {
		t.Errorf("point %+v, want %+v", resp.Point, want)
	}
	if resp.Files != 6 || resp.Bytes != size {
		t.Errorf("response counts %d files of %d bytes, want 6 of %d", resp.Files, resp.Bytes, size)
	}
}

// TestRestoreDirectoryCopyHostile never follows a symlink in the copy,
// restores every symlink as it is (cp -a and rsync -a copies of real
// folders hold links to absolute paths and out of the folder), and skips
// special files.
func TestRestoreDirectoryCopyHostile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "copy")
	secret := filepath.Join(dir, "secret")
	writeFile(t, secret, []byte("not part of the backup"), 0o600, baseTime)
	writeFile(t, filepath.Join(src, "ok.txt"), []byte("ok"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "sub/in.txt"), []byte("in"), 0o644, baseTime)
	links := map[string]string{
		"abs":        secret,
		"passwd":     "/etc/passwd",
		"up":         "../secret",
		"sub/inside": "../ok.txt",
		"dirlink":    filepath.Join(dir), // a symlinked directory: never walked
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, rec, target := restore(t, plugins.Source{"path": src}, src, 0)

	for _, p := range resp.Problems {
		t.Errorf("unexpected problem %+v", p)
	}
	onlyEntries(t, target, "abs", "dirlink", "ok.txt", "passwd", "sub", "up")
	onlyEntries(t, filepath.Join(target, "sub"), "in.txt", "inside")
	for link, want := range links {
		if got, err := os.Readlink(filepath.Join(target, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	if got := resp.Details["skipped_special"]; got != "1" {
		t.Errorf("skipped_special %q, want 1", got)
	}
	var paths []string
	for _, f := range rec.files {
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	if want := []string{"ok.txt", "sub/in.txt"}; !slices.Equal(paths, want) {
		t.Errorf("reported %q, want %q", paths, want)
	}
}

// TestRestoreDirectoryCopyUnreadable fails the drill for a file that
// cannot be read from the copy, naming it, and restores the rest.
func TestRestoreDirectoryCopyUnreadable(t *testing.T) {
	src := filepath.Join(t.TempDir(), "copy")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "lost.txt"), []byte("lost"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "z.txt"), []byte("z"), 0o644, baseTime)
	// The file vanishes between the walk and the copy, the way a file on
	// a failing disk or a changing copy does; root can read any mode.
	testHookCopyFile = func(rel string) {
		if rel == "lost.txt" {
			if err := os.Remove(filepath.Join(src, rel)); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { testHookCopyFile = nil }()

	resp, rec, target := restore(t, plugins.Source{"path": src}, src, 0)
	want := []plugins.Problem{{Kind: plugins.ProblemFail, Path: "lost.txt",
		Message: fmt.Sprintf(`"lost.txt" cannot be read from the copy %s: no such file or directory`, src)}}
	if !slices.Equal(resp.Problems, want) {
		t.Errorf("problems %+v, want %+v", resp.Problems, want)
	}
	if len(rec.files) != 2 {
		t.Errorf("reported %+v, want a.txt and z.txt", rec.files)
	}
	onlyEntries(t, target, "a.txt", "z.txt")
}

// TestRestoreDirectoryCopyMaxBytes stops a copy that would write more
// than MaxBytes.
func TestRestoreDirectoryCopyMaxBytes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "copy")
	for i := range 4 {
		writeFile(t, filepath.Join(src, fmt.Sprint(i)), make([]byte, 256<<10), 0o644, baseTime)
	}
	resp, rec, _ := restore(t, plugins.Source{"path": src}, src, 600<<10)
	want := []plugins.Problem{{Kind: plugins.ProblemError, Path: "2",
		Message: `restore would exceed max_scratch_bytes (614400 bytes): stopped at "2"`}}
	if !slices.Equal(resp.Problems, want) {
		t.Errorf("problems %+v, want %+v", resp.Problems, want)
	}
	if n := len(rec.files); n > 2 {
		t.Errorf("%d files restored, want at most 2", n)
	}
}

// TestRestoreDirectoryCopyCancel returns the ctx error.
func TestRestoreDirectoryCopyCancel(t *testing.T) {
	src := filepath.Join(t.TempDir(), "copy")
	for i := range 2000 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%d", i%10, i)), []byte("x"), 0o644, baseTime)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{onFiles: func([]plugins.File) error { cancel(); return nil }}
	_, err := New().Restore(ctx, &plugins.RestoreRequest{
		Source: plugins.Source{"path": src}, PointID: src, Target: t.TempDir(),
	}, rec)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
	if n := len(rec.files); n >= 2000 {
		t.Errorf("all %d files were copied after the cancellation", n)
	}
}

// TestListRestorePointsDirectory picks the directory written last and
// dates it by when its content was last written, or by its stamp.
func TestListRestorePointsDirectory(t *testing.T) {
	dir := t.TempDir()
	mkcopy := func(name string, dirTime, contentTime time.Time, stamp bool) string {
		p := filepath.Join(dir, name)
		writeFile(t, filepath.Join(p, "data/file"), []byte("12345"), 0o644, contentTime)
		writeFile(t, filepath.Join(p, "old"), []byte("1"), 0o644, contentTime.Add(-time.Hour))
		if stamp {
			writeFile(t, filepath.Join(p, "meta/done"), nil, 0o644, dirTime.Add(time.Minute))
		}
		for _, d := range []string{filepath.Join(p, "data"), filepath.Join(p, "meta"), p} {
			// meta exists only with a stamp.
			if err := os.Chtimes(d, contentTime.Add(-time.Hour), contentTime.Add(-time.Hour)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, dirTime, dirTime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	older := mkcopy("daily.1", baseTime.Add(-24*time.Hour), baseTime.Add(-30*time.Hour), true)
	newest := mkcopy("daily.0", baseTime, baseTime.Add(-5*time.Hour), true)
	// The copy written last, without a stamp.
	unstamped := mkcopy("daily.2", baseTime.Add(time.Hour), baseTime.Add(2*time.Hour), false)
	writeFile(t, filepath.Join(dir, "daily.file"), nil, 0o644, baseTime.Add(2*time.Hour)) // not a directory

	tests := []struct {
		name   string
		source plugins.Source
		want   []plugins.RestorePoint
	}{
		{
			name:   "newest directory, dated by its newest entry",
			source: plugins.Source{"path": filepath.Join(dir, "daily.*")},
			want:   []plugins.RestorePoint{{ID: unstamped, Time: newestWritten(t, unstamped), Size: 6, Files: 2, Description: "daily.2", TimeBasis: copyBasis}},
		},
		{
			name:   "stamped directories, dated by their stamp",
			source: plugins.Source{"path": filepath.Join(dir, "daily.*"), "stamp": "meta/done"},
			want: []plugins.RestorePoint{
				{ID: newest, Time: baseTime.Add(time.Minute), Size: -1, Files: -1, Description: "daily.0", TimeBasis: plugins.BasisStampMtime},
				{ID: older, Time: baseTime.Add(-24*time.Hour + time.Minute), Size: -1, Files: -1, Description: "daily.1", TimeBasis: plugins.BasisStampMtime},
			},
		},
		{
			name:   "nothing matches",
			source: plugins.Source{"path": filepath.Join(dir, "weekly.*")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: tt.source})
			if err != nil {
				t.Fatal(err)
			}
			if !pointsEqual(got.Points, tt.want) {
				t.Errorf("points\n%+v\nwant\n%+v", got.Points, tt.want)
			}
		})
	}

	t.Run("restore dates the point the same way", func(t *testing.T) {
		resp, _, _ := restore(t, plugins.Source{"path": filepath.Join(dir, "daily.*"), "stamp": "meta/done"}, newest, 0)
		if got, want := resp.Point.Time, baseTime.Add(time.Minute); !got.Equal(want) {
			t.Errorf("restored point dated %v, want the stamp's %v", got, want)
		}
		resp, _, _ = restore(t, plugins.Source{"path": filepath.Join(dir, "daily.*"), "stamp": "meta/done"}, unstamped, 0)
		if len(resp.Problems) != 1 || resp.Problems[0].Kind != plugins.ProblemFail || !strings.Contains(resp.Problems[0].Message, "not marked complete") {
			t.Errorf("restoring a copy without its stamp: problems %s, want one fail", problemsOf(resp.Problems))
		}
	})
}

// TestValidateSource reports every problem with a source, each naming its
// key.
func TestValidateSource(t *testing.T) {
	tests := []struct {
		name   string
		source plugins.Source
		want   []string // "key: message part"
	}{
		{"archive", plugins.Source{"archive": "/b/home-*.tar.gz"}, nil},
		{"path with stamp", plugins.Source{"path": "/b/daily.*", "stamp": ".done"}, nil},
		{"nothing", plugins.Source{}, []string{"path: one of path"}},
		{"both", plugins.Source{"path": "/b/x", "archive": "/b/y.tar"}, []string{"archive: exclude each other"}},
		{"relative", plugins.Source{"archive": "backups/*.tar"}, []string{"archive: must be absolute"}},
		{"bad glob", plugins.Source{"path": "/b/[x"}, []string{"path: not a valid glob"}},
		{"empty", plugins.Source{"path": ""}, []string{"path: must not be empty"}},
		{"not a string", plugins.Source{"archive": int64(3)}, []string{"archive: must be a string"}},
		{"unknown keys", plugins.Source{"archive": "/b/x.tar", "repository": "/r", "pasword_file": "/p"},
			[]string{`pasword_file: unknown key "pasword_file"`, `repository: unknown key "repository"`}},
		{"stamp with archive", plugins.Source{"archive": "/b/x.tar", "stamp": "done"}, []string{"stamp: applies only to path"}},
		{"absolute stamp", plugins.Source{"path": "/b/x", "stamp": "/b/x/done"}, []string{"stamp: must be relative"}},
		{"climbing stamp", plugins.Source{"path": "/b/x", "stamp": "../done"}, []string{"stamp: must stay inside"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := New().ValidateSource(context.Background(), &plugins.ValidateSourceRequest{Source: tt.source})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Problems) != len(tt.want) {
				t.Fatalf("problems %s, want %q", problemsOf(resp.Problems), tt.want)
			}
			for i, p := range resp.Problems {
				key, part, _ := strings.Cut(tt.want[i], ": ")
				if p.Kind != plugins.ProblemError || p.Key != key || !strings.Contains(p.Message, part) {
					t.Errorf("problem %+v, want an error for key %q containing %q", p, key, part)
				}
			}
		})
	}
}

// TestDescribe names the backend and its keys.
func TestDescribe(t *testing.T) {
	resp, err := New().Describe(context.Background(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range resp.SourceKeys {
		keys = append(keys, k.Name+":"+string(k.Type))
		if k.Doc == "" {
			t.Errorf("key %s has no doc", k.Name)
		}
	}
	if resp.Name != "filesystem" || resp.Kind != plugins.KindFiles ||
		!slices.Equal(keys, []string{"path:glob", "archive:glob", "stamp:string"}) {
		t.Errorf("described as %+v", resp)
	}
}

// TestCleanup has nothing to do, however often it is called.
func TestCleanup(t *testing.T) {
	target := t.TempDir()
	writeFile(t, filepath.Join(target, "f"), []byte("x"), 0o644, baseTime)
	for range 2 {
		if _, err := New().Cleanup(context.Background(), &plugins.CleanupRequest{Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "f")); err != nil {
		t.Errorf("cleanup touched the target, which the host owns: %v", err)
	}
}

// TestRestoreNotPermitted: a backup made as root keeps files and folders
// only root may read. When drill's user may not read them, the backup is
// not shown to be bad: the drill is an error that says what to do, for a
// directory copy and for an archive alike. Run as root, the test runs
// itself again as nobody, since root reads any mode.
func TestRestoreNotPermitted(t *testing.T) {
	if os.Getuid() == 0 {
		rerunAsNobody(t)
		return
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "copy")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "secret.txt"), []byte("s"), 0o000, baseTime)
	writeFile(t, filepath.Join(src, "private/key"), []byte("k"), 0o644, baseTime)
	private := filepath.Join(src, "private")
	if err := os.Chmod(private, 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(private, 0o700) }) // so that TempDir can remove it
	archive := filepath.Join(dir, "x.tar")
	writeFile(t, archive, makeTar(t, file("a.txt", "a")), 0o000, baseTime)

	dirResp, _, _ := restore(t, plugins.Source{"path": src}, src, 0)
	tarResp, _, _ := restore(t, plugins.Source{"archive": archive}, archive, 0)
	for name, resp := range map[string]*plugins.RestoreResponse{"copy": dirResp, "archive": tarResp} {
		if len(resp.Problems) == 0 {
			t.Errorf("%s: no problem reported", name)
		}
		for _, p := range resp.Problems {
			if p.Kind != plugins.ProblemError || !strings.Contains(p.Message, "permission denied: drill runs as uid") ||
				!strings.Contains(p.Message, "run drill as a user that can") {
				t.Errorf("%s: problem %+v, want an error saying how to fix it", name, p)
			}
		}
	}
}

// rerunAsNobody runs the calling test again in a copy of the test binary
// as uid and gid 65534, and fails it if that run fails.
func rerunAsNobody(t *testing.T) {
	t.Helper()
	if os.Getenv("DRILL_TEST_AS_NOBODY") != "" {
		t.Fatal("still root after switching to nobody")
	}
	tmp := t.TempDir()
	if err := os.Chmod(filepath.Dir(tmp), 0o755); err != nil { // the test's own folder, made 0700
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "filesystem.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.count=1")
	cmd.Env = []string{"TMPDIR=" + tmp, "PATH=" + os.Getenv("PATH"), "DRILL_TEST_AS_NOBODY=1"}
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}
