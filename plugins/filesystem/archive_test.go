package filesystem

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// TestRestoreArchive restores archives made by the real tar command and
// compares the result with the tree they were made from.
func TestRestoreArchive(t *testing.T) {
	requireTool(t, "tar")
	tests := []struct {
		name       string
		file       string
		tarArgs    []string
		wantFormat string
	}{
		{"tar", "home.tar", []string{"-cf"}, "tar"},
		{"tar.gz", "home.tar.gz", []string{"-czf"}, "tar.gz"},
		{"tar.zst", "home.tar.zst", []string{"--zstd", "-cf"}, "tar.zst"},
		{"pax tgz", "home.tgz", []string{"--format=posix", "-czf"}, "tar.gz"},
		// The format comes from the content, not the name.
		{"gzip named .tar", "misnamed.tar", []string{"-czf"}, "tar.gz"},
		{"zstd named .tar.gz", "misnamed.tar.gz", []string{"--zstd", "-cf"}, "tar.zst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Contains(tt.tarArgs, "--zstd") {
				requireTool(t, "zstd")
			}
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			makeTree(t, src)
			archive := filepath.Join(dir, tt.file)
			run(t, "tar", append(tt.tarArgs, archive, "-C", src, ".")...)

			resp, rec, target := restore(t, plugins.Source{"archive": filepath.Join(dir, "*")}, archive, 0)
			if len(resp.Problems) > 0 {
				t.Fatalf("problems: %s", problemsOf(resp.Problems))
			}
			if got := resp.Details["format"]; got != tt.wantFormat {
				t.Errorf("format %q, want %q", got, tt.wantFormat)
			}
			checkRestored(t, src, target, rec)

			fi, err := os.Stat(archive)
			if err != nil {
				t.Fatal(err)
			}
			wantPoint := plugins.RestorePoint{ID: archive, Time: fi.ModTime(), Size: fi.Size(), Files: 6, Description: tt.file, TimeBasis: plugins.BasisArchiveMtime}
			if got := resp.Point; !pointsEqual([]plugins.RestorePoint{got}, []plugins.RestorePoint{wantPoint}) {
				t.Errorf("point %+v, want %+v", got, wantPoint)
			}
			if got, want := resp.Files, int64(len(rec.files)); got != want || got != 6 {
				t.Errorf("response counts %d files, %d reported, want 6", got, want)
			}
			var bytes int64
			for _, f := range rec.files {
				bytes += f.Size
			}
			if resp.Bytes != bytes {
				t.Errorf("response counts %d bytes, files add up to %d", resp.Bytes, bytes)
			}
			last := rec.progress[len(rec.progress)-1]
			if last.FilesDone != resp.Files || last.BytesTotal != fi.Size() || last.BytesDone <= 0 {
				t.Errorf("last progress %+v, want %d files done of an archive of %d bytes", last, resp.Files, fi.Size())
			}
		})
	}
}

// TestListRestorePointsArchive lists every matching archive, newest mtime
// first, whatever the names say.
func TestListRestorePointsArchive(t *testing.T) {
	dir := t.TempDir()
	mtimes := map[string]time.Time{
		"home-1.tar.gz": baseTime.Add(-48 * time.Hour),
		"home-2.tar.gz": baseTime, // the newest, though not the last by name
		"home-3.tar.gz": baseTime.Add(-24 * time.Hour),
	}
	for name, mtime := range mtimes {
		writeFile(t, filepath.Join(dir, name), []byte(name), 0o644, mtime)
	}
	if err := os.Mkdir(filepath.Join(dir, "home-dir.tar.gz"), 0o755); err != nil { // not a file: not a point
		t.Fatal(err)
	}
	got, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{
		Source: plugins.Source{"archive": filepath.Join(dir, "home-*.tar.gz")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []plugins.RestorePoint
	for _, name := range []string{"home-2.tar.gz", "home-3.tar.gz", "home-1.tar.gz"} {
		want = append(want, plugins.RestorePoint{
			ID: filepath.Join(dir, name), Time: mtimes[name], Size: int64(len(name)), Files: -1, Description: name,
			TimeBasis: plugins.BasisArchiveMtime,
		})
	}
	if !pointsEqual(got.Points, want) {
		t.Errorf("points\n%+v\nwant\n%+v", got.Points, want)
	}

	none, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{
		Source: plugins.Source{"archive": filepath.Join(dir, "nothing-*.tar")},
	})
	if err != nil || len(none.Points) != 0 {
		t.Errorf("no match: got %+v, %v; want no points and no error", none, err)
	}
}

// damagedArchives builds intact archives with the real tar and damages
// them. The small file comes first, so it is complete before any damage.
func damagedArchives(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	src := filepath.Join(dir, "src")
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i*7+i/1000) % 61
	}
	writeFile(t, filepath.Join(src, "a-small.txt"), []byte("small and complete\n"), 0o644, baseTime)
	writeFile(t, filepath.Join(src, "z-big.bin"), big, 0o644, baseTime)
	read := func(args ...string) []byte {
		out := filepath.Join(dir, "intact")
		run(t, "tar", append(append([]string{"--sort=name"}, args...), out, "-C", src, "a-small.txt", "z-big.bin")...)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	flip := func(data []byte) []byte {
		d := bytes.Clone(data)
		d[len(d)/2] ^= 0xff
		return d
	}
	plain, gz := read("-cf"), read("-czf")
	// Where the end-of-archive marker starts: after the last non-zero
	// byte, rounded up to a block.
	end := bytes.LastIndexFunc(plain, func(r rune) bool { return r != 0 })
	cut := plain[:(end+512)/512*512]
	out := map[string][]byte{
		"gzip byte flipped":            flip(gz),
		"gzip truncated":               gz[:len(gz)/2],
		"tar truncated inside a file":  plain[:len(plain)/2],
		"tar cut at an entry boundary": cut,
		"gzip of a tar cut at an entry boundary": func() []byte {
			p := filepath.Join(dir, "cut.tar")
			if err := os.WriteFile(p, cut, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "gzip", "-f", p)
			data, err := os.ReadFile(p + ".gz")
			if err != nil {
				t.Fatal(err)
			}
			return data
		}(),
		"tar header damaged": func() []byte {
			d := bytes.Clone(plain)
			d[0] ^= 0xff // the first header's checksum no longer holds
			return d
		}(),
	}
	if _, err := exec.LookPath("zstd"); err == nil || os.Getenv("CI") != "" {
		zst := read("--zstd", "-cf")
		out["zstd byte flipped"] = flip(zst)
		out["zstd truncated"] = zst[:len(zst)/2]
	}
	return out
}

// TestRestoreDamagedArchive fails the drill for a truncated or corrupt
// archive, names the archive and where the damage is, and still reports
// the files written completely before it.
func TestRestoreDamagedArchive(t *testing.T) {
	requireTool(t, "tar")
	requireTool(t, "gzip")
	dir := t.TempDir()
	archives := damagedArchives(t, dir)
	tests := []struct {
		name string
		// wantIn is a part of the message beyond "archive X is damaged: ".
		wantIn string
		// wantSmall: a-small.txt was complete before the damage.
		wantSmall bool
	}{
		{"gzip byte flipped", "", false},
		{"zstd byte flipped", "", false},
		{"gzip truncated", `unexpected EOF inside "z-big.bin"`, true},
		{"zstd truncated", `inside "z-big.bin"`, true},
		{"tar truncated inside a file", `unexpected EOF inside "z-big.bin"`, true},
		{"tar cut at an entry boundary", `ends after "z-big.bin" without the end-of-archive marker`, true},
		{"gzip of a tar cut at an entry boundary", `ends after "z-big.bin" without the end-of-archive marker`, true},
		{"tar header damaged", `invalid tar header at its start`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, ok := archives[tt.name]
			if !ok {
				t.Skip("zstd not installed")
			}
			archive := filepath.Join(t.TempDir(), "home.tar.x")
			if err := os.WriteFile(archive, data, 0o644); err != nil {
				t.Fatal(err)
			}
			resp, rec, target := restore(t, plugins.Source{"archive": archive}, archive, 0)
			if len(resp.Problems) != 1 {
				t.Fatalf("got %d problems, want one: %s", len(resp.Problems), problemsOf(resp.Problems))
			}
			p := resp.Problems[0]
			wantPrefix := fmt.Sprintf("archive %s is damaged: ", archive)
			if p.Kind != plugins.ProblemFail || p.Path != archive || !strings.HasPrefix(p.Message, wantPrefix) || !strings.Contains(p.Message, tt.wantIn) {
				t.Errorf("problem %+v, want a fail for %s starting %q and containing %q", p, archive, wantPrefix, tt.wantIn)
			}
			digests := rec.digests(t)
			if _, got := digests["a-small.txt"]; tt.wantSmall && !got {
				t.Errorf("a-small.txt, complete before the damage, was not reported (reported %v)", digests)
			}
			if strings.Contains(tt.wantIn, `inside "z-big.bin"`) {
				if _, err := os.Lstat(filepath.Join(target, "z-big.bin")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the partly written z-big.bin was left in the target: %v", err)
				}
				if _, got := digests["z-big.bin"]; got {
					t.Errorf("the partly written z-big.bin was reported")
				}
			}
		})
	}
}

// tarEntry is one entry of a hand-made archive.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: baseTime}, body}
}

func dirEntry(name string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: baseTime}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: baseTime}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: baseTime}}
}

// makeTar writes entries as a tar archive, in PAX format when a name
// needs it.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// restoreInSandbox restores data as an archive into sandbox/target, with
// the archive at sandbox/x.tar, so that anything written outside the
// target shows up in sandbox.
func restoreInSandbox(t testing.TB, sandbox string, data []byte, maxBytes int64) (*plugins.RestoreResponse, *recorder, string, error) {
	t.Helper()
	archive := filepath.Join(sandbox, "x.tar")
	target := filepath.Join(sandbox, "target")
	unlockOnCleanup(t, sandbox)
	if err := os.WriteFile(archive, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{
		Source: plugins.Source{"archive": archive}, PointID: archive, Target: target, MaxBytes: maxBytes,
	}, rec)
	return resp, rec, target, err
}

// TestRestoreHostileArchive refuses every entry that would write outside
// the target or through a link, names each one as a fail problem, and
// writes nothing outside the target. Symlinks are restored as they are,
// wherever they point.
func TestRestoreHostileArchive(t *testing.T) {
	tests := []struct {
		name string
		// entries get the sandbox's path for absolute names.
		entries func(sandbox string) []tarEntry
		// wantRefused are the paths of the fail problems, in order.
		wantRefused []string
		// wantInTarget are the entries the target must hold.
		wantInTarget []string
	}{
		{
			name:        "dotdot name",
			entries:     func(string) []tarEntry { return []tarEntry{file("../evil", "x"), file("ok", "y")} },
			wantRefused: []string{"../evil"}, wantInTarget: []string{"ok"},
		},
		{
			name:        "dotdot inside a name",
			entries:     func(string) []tarEntry { return []tarEntry{file("a/../../evil", "x")} },
			wantRefused: []string{"a/../../evil"},
		},
		{
			name: "absolute name",
			entries: func(sb string) []tarEntry {
				return []tarEntry{file(sb+"/abs-evil", "x"), file("/etc/drill-test-evil", "x")}
			},
			wantRefused: nil, // paths set below
		},
		{
			// Links are restored as the backup holds them, never followed.
			name: "symlinks to absolute paths and out of the tree",
			entries: func(string) []tarEntry {
				return []tarEntry{symlink("passwd", "/etc/passwd"), symlink("up", "../../x"), symlink("d/up", "../../x"),
					symlink("a/b/top", "../.."), symlink("l", "a/b/top/../..")}
			},
			wantInTarget: []string{"passwd", "up", "d", "a", "l"},
		},
		{
			name:        "hard link out",
			entries:     func(string) []tarEntry { return []tarEntry{hardlink("h", "../x"), hardlink("h2", "/etc/passwd")} },
			wantRefused: []string{"h", "h2"},
		},
		{
			name: "hard link to a file not yet extracted",
			entries: func(string) []tarEntry {
				return []tarEntry{hardlink("early", "later"), file("later", "content")}
			},
			wantRefused: []string{"early"}, wantInTarget: []string{"later"},
		},
		{
			name: "file below a symlink to outside",
			entries: func(sb string) []tarEntry {
				return []tarEntry{symlink("link", sb+"/outside"), file("link/file", "x")}
			},
			wantRefused: []string{"link/file"}, wantInTarget: []string{"link"},
		},
		{
			name: "file below a symlink that stays inside",
			entries: func(string) []tarEntry {
				return []tarEntry{dirEntry("sub", 0o755), symlink("inner", "sub"), file("inner/file", "x")}
			},
			wantRefused: []string{"inner/file"}, wantInTarget: []string{"sub", "inner"},
		},
		{
			name: "file below a file",
			entries: func(string) []tarEntry {
				return []tarEntry{file("f", "x"), file("f/g", "y")}
			},
			wantRefused: []string{"f/g"}, wantInTarget: []string{"f"},
		},
		{
			name: "directory replaced by a symlink",
			entries: func(sb string) []tarEntry {
				return []tarEntry{file("d/keep", "x"), symlink("d", sb+"/outside"), file("d/file", "y")}
			},
			wantRefused: []string{"d", "d/file"}, wantInTarget: []string{"d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox := t.TempDir()
			if err := os.Mkdir(filepath.Join(sandbox, "outside"), 0o755); err != nil {
				t.Fatal(err)
			}
			want := tt.wantRefused
			if tt.name == "absolute name" {
				want = []string{sandbox + "/abs-evil", "/etc/drill-test-evil"}
			}
			resp, _, target, err := restoreInSandbox(t, sandbox, makeTar(t, tt.entries(sandbox)...), 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range resp.Problems {
				if p.Kind != plugins.ProblemFail || !strings.Contains(p.Message, "not restored") {
					t.Errorf("unexpected problem %+v", p)
				}
				got = append(got, p.Path)
			}
			if !slices.Equal(got, want) {
				t.Errorf("refused %q, want %q:%s", got, want, problemsOf(resp.Problems))
			}
			onlyEntries(t, sandbox, "target", "x.tar", "outside")
			onlyEntries(t, filepath.Join(sandbox, "outside"))
			onlyEntries(t, target, tt.wantInTarget...)
			if _, err := os.Lstat("/etc/drill-test-evil"); err == nil {
				t.Errorf("/etc/drill-test-evil was written")
			}
		})
	}
}

// TestRestoreArchiveEntries covers the entry kinds and attributes an
// archive can hold beyond plain files and directories.
func TestRestoreArchiveEntries(t *testing.T) {
	withMode := func(e tarEntry, mode int64) tarEntry { e.hdr.Mode = mode; return e }
	fifo := tarEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "pipe", Mode: 0o644, ModTime: baseTime}}
	chr := tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: baseTime}}
	// Files in more directories than the writer keeps open, alternating.
	var interleaved []tarEntry
	wantInterleaved := map[string]string{}
	for round := range 2 {
		for d := range dirCacheSize + 4 {
			name := fmt.Sprintf("d%02d/f%d", d, round)
			interleaved = append(interleaved, file(name, name))
			wantInterleaved[name] = name
		}
	}
	tests := []struct {
		name        string
		entries     []tarEntry
		wantModes   map[string]fs.FileMode // by path, type bits included
		wantContent map[string]string      // regular files
		wantLinks   map[string]string      // symlink targets
		wantSkipped string
	}{
		{
			name:        "setuid, setgid and sticky bits are dropped",
			entries:     []tarEntry{withMode(file("suid", "x"), 0o4755), withMode(file("sgid", "x"), 0o2750), withMode(dirEntry("tmp", 0), 0o1777)},
			wantModes:   map[string]fs.FileMode{"suid": 0o755, "sgid": 0o750, "tmp": fs.ModeDir | 0o777},
			wantSkipped: "0",
		},
		{
			name:        "FIFOs and devices are skipped",
			entries:     []tarEntry{fifo, chr, file("after", "x")},
			wantContent: map[string]string{"after": "x"},
			wantSkipped: "2",
		},
		{
			name:        "hard link to a restored file",
			entries:     []tarEntry{file("dir/orig", "shared"), hardlink("dir/link", "./dir/orig")},
			wantContent: map[string]string{"dir/orig": "shared", "dir/link": "shared"},
			wantSkipped: "0",
		},
		{
			name:        "symlinks that stay inside",
			entries:     []tarEntry{file("f", "x"), symlink("a/b/up", "../../f"), symlink("a/side", "b/up"), symlink("dangling", "nowhere")},
			wantLinks:   map[string]string{"a/b/up": "../../f", "a/side": "b/up", "dangling": "nowhere"},
			wantSkipped: "0",
		},
		{
			name:        "a later entry of the same name replaces the earlier one",
			entries:     []tarEntry{file("f", "old"), file("f", "new"), symlink("l", "f"), file("l", "now a file")},
			wantContent: map[string]string{"f": "new", "l": "now a file"},
			wantSkipped: "0",
		},
		{
			name:        "names with a newline and invalid UTF-8",
			entries:     []tarEntry{file("new\nline", "1"), file("bad\xffname", "2"), dirEntry("dir\n", 0o755), file("dir\n/x", "3")},
			wantContent: map[string]string{"new\nline": "1", "bad\xffname": "2", "dir\n/x": "3"},
			wantSkipped: "0",
		},
		{
			name:        "files in more directories than are kept open",
			entries:     interleaved,
			wantContent: wantInterleaved,
			wantSkipped: "0",
		},
		{
			name:        "a directory entry after its contents",
			entries:     []tarEntry{file("d/e/f", "x"), dirEntry("d/e", 0o500), dirEntry("d", 0o550)},
			wantModes:   map[string]fs.FileMode{"d": fs.ModeDir | 0o550, "d/e": fs.ModeDir | 0o500, "d/e/f": 0o644},
			wantContent: map[string]string{"d/e/f": "x"},
			wantSkipped: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sandbox := t.TempDir()
			resp, rec, target, err := restoreInSandbox(t, sandbox, makeTar(t, tt.entries...), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Problems) > 0 {
				t.Errorf("problems: %s", problemsOf(resp.Problems))
			}
			if got := resp.Details["skipped_special"]; got != tt.wantSkipped {
				t.Errorf("skipped_special %q, want %q", got, tt.wantSkipped)
			}
			for p, want := range tt.wantModes {
				fi, err := os.Lstat(filepath.Join(target, p))
				if err != nil {
					t.Errorf("%q: %v", p, err)
					continue
				}
				if got := fi.Mode(); got != want {
					t.Errorf("%q: mode %v, want %v", p, got, want)
				}
			}
			reported := map[string]plugins.File{}
			for _, f := range rec.files {
				reported[f.Path] = f
			}
			for p, want := range tt.wantContent {
				data, err := os.ReadFile(filepath.Join(target, p))
				if err != nil || string(data) != want {
					t.Errorf("%q holds %q (%v), want %q", p, data, err, want)
				}
				if f, ok := reported[p]; !ok || f.Size != int64(len(want)) || fmt.Sprintf("%x", f.SHA256) != sha256File(t, filepath.Join(target, p)) {
					t.Errorf("%q reported as %+v, want its size and digest", p, f)
				}
			}
			for p, want := range tt.wantLinks {
				if got, err := os.Readlink(filepath.Join(target, p)); got != want {
					t.Errorf("symlink %q -> %q (%v), want -> %q", p, got, err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(target, "pipe")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a FIFO was created: %v", err)
			}
			onlyEntries(t, sandbox, "target", "x.tar")
		})
	}
}

// TestRestoreArchiveMaxBytes stops a restore that would write more than
// MaxBytes, after the files that fit.
func TestRestoreArchiveMaxBytes(t *testing.T) {
	body := strings.Repeat("x", 256<<10)
	data := makeTar(t, file("1", body), file("2", body), file("3", body), file("4", body))
	const max = 600 << 10
	resp, rec, _, err := restoreInSandbox(t, t.TempDir(), data, max)
	if err != nil {
		t.Fatal(err)
	}
	want := []plugins.Problem{{Kind: plugins.ProblemError, Path: "3",
		Message: `restore would exceed max_scratch_bytes (614400 bytes): stopped before "3" (262144 bytes)`}}
	if !slices.Equal(resp.Problems, want) {
		t.Errorf("problems %+v, want %+v", resp.Problems, want)
	}
	if got := len(rec.files); got != 2 || resp.Files != 2 {
		t.Errorf("%d files reported, response says %d, want 2", got, resp.Files)
	}
}

// TestRestoreArchiveCancel stops promptly when ctx is cancelled and
// returns the ctx error.
func TestRestoreArchiveCancel(t *testing.T) {
	var entries []tarEntry
	for i := range 3000 {
		entries = append(entries, file(fmt.Sprintf("f%04d", i), strings.Repeat("y", 1000)))
	}
	data := makeTar(t, entries...)

	t.Run("before the start", func(t *testing.T) {
		sandbox := t.TempDir()
		archive := filepath.Join(sandbox, "x.tar")
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := New().Restore(ctx, &plugins.RestoreRequest{
			Source: plugins.Source{"archive": archive}, PointID: archive, Target: target,
		}, &recorder{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
	})
	t.Run("while restoring", func(t *testing.T) {
		sandbox := t.TempDir()
		archive := filepath.Join(sandbox, "x.tar")
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &recorder{onFiles: func([]plugins.File) error { cancel(); return nil }}
		_, err := New().Restore(ctx, &plugins.RestoreRequest{
			Source: plugins.Source{"archive": archive}, PointID: archive, Target: target,
		}, rec)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
		if n := len(rec.files); n >= len(entries) {
			t.Errorf("all %d files were restored after the cancellation", n)
		}
	})
}

// TestRestoreArchiveHostGone stops when the host no longer takes events.
func TestRestoreArchiveHostGone(t *testing.T) {
	sandbox := t.TempDir()
	archive := filepath.Join(sandbox, "x.tar")
	if err := os.WriteFile(archive, makeTar(t, file("a", "1"), file("b", "2")), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{onFiles: func([]plugins.File) error { return errors.New("host gone") }}
	_, err := New().Restore(context.Background(), &plugins.RestoreRequest{
		Source: plugins.Source{"archive": archive}, PointID: archive, Target: t.TempDir(),
	}, rec)
	if err == nil || !strings.Contains(err.Error(), "host gone") {
		t.Errorf("got error %v, want one saying the host has gone", err)
	}
}

// TestRestoreArchiveOddPoints covers restore points that are not what
// they were when listed, or not archives drill reads.
func TestRestoreArchiveOddPoints(t *testing.T) {
	dir := t.TempDir()
	xz := filepath.Join(dir, "home.tar.xz")
	if err := os.WriteFile(xz, []byte("\xfd7zXZ\x00rest of an xz stream"), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "gone.tar")
	tests := []struct {
		name    string
		pointID string
		want    plugins.Problem
	}{
		{"vanished", gone, plugins.Problem{Kind: plugins.ProblemFail, Path: gone,
			Message: fmt.Sprintf("restore point %s vanished: it was listed but no longer exists", gone)}},
		{"xz", xz, plugins.Problem{Kind: plugins.ProblemError, Path: xz,
			Message: fmt.Sprintf("archive %s is xz-compressed, which the filesystem backend does not read (it reads tar, gzip and zstd): make the backup with tar -czf or tar --zstd -cf", xz)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, _ := restore(t, plugins.Source{"archive": filepath.Join(dir, "*")}, tt.pointID, 0)
			if want := []plugins.Problem{tt.want}; !slices.Equal(resp.Problems, want) {
				t.Errorf("problems %+v, want %+v", resp.Problems, want)
			}
		})
	}

	t.Run("not of this source", func(t *testing.T) {
		_, err := New().Restore(context.Background(), &plugins.RestoreRequest{
			Source: plugins.Source{"archive": filepath.Join(dir, "*.tar.gz")}, PointID: xz, Target: t.TempDir(),
		}, &recorder{})
		if err == nil {
			t.Errorf("restoring %s from a source that does not match it: no error", xz)
		}
	})
}
