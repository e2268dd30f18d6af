package restic

import (
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// A snapshot of a sparse 256 MiB file is a bomb: a repository of a few
// kilobytes that restores into 256 MiB. Past max_scratch_bytes the restore
// is an error problem naming the limit, the size and the snapshot, and no
// lock is left: refused before restic starts when the listed snapshot's
// summary says so, and stopped by SIGINT from restic's own status
// otherwise (a summary is only what the backup says about itself).
func TestRestoreMaxBytes(t *testing.T) {
	const size, limit = 256 << 20, 16 << 20
	src, r := repoOf(t, func(t *testing.T, src string) {
		if err := os.WriteFile(filepath.Join(src, "small"), []byte("small\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(src, "zeros"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	})
	id := snapshotIDs(t, src)[0]

	t.Run("listed summary", func(t *testing.T) {
		b := New()
		if _, err := b.ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src}); err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		resp, err := b.Restore(context.Background(), &plugins.RestoreRequest{Source: src, PointID: id, Target: target, MaxBytes: limit}, &rec{files: map[string][]byte{}})
		if err != nil {
			t.Fatal(err)
		}
		want := "restore would exceed max_scratch_bytes (16777216 bytes): snapshot " + id[:8] + " holds 268435462 bytes by its summary; restic was not started"
		if len(resp.Problems) != 1 || resp.Problems[0].Kind != plugins.ProblemError || resp.Problems[0].Message != want {
			t.Errorf("problems %+v, want one error %q", resp.Problems, want)
		}
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("the target holds %d entries", len(ents))
		}
		_, _ = b.Cleanup(context.Background(), &plugins.CleanupRequest{Source: src})
		noLocks(t, r)
	})

	t.Run("restic's status", func(t *testing.T) {
		// restic writes the 256 MiB of zeros in about a second; on a
		// loaded machine it can finish before its first status line
		// reaches the guard, which then reports the overrun but cannot
		// stop it. Stopping it part way must happen in one of three tries.
		var written int64
		for try := 1; try <= 3; try++ {
			written = restoreOverLimit(t, src, id, limit)
			noLocks(t, r)
			if written < size {
				return
			}
			t.Logf("try %d: restic finished writing before its status reached the guard", try)
		}
		t.Errorf("restic was stopped after writing %d bytes, all of the bomb, in three tries", written)
	})

	t.Run("within the limit", func(t *testing.T) {
		resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{Source: src, PointID: id, Target: t.TempDir(), MaxBytes: size + 100}, &rec{files: map[string][]byte{}})
		if err != nil {
			t.Fatal(err)
		}
		if fails := failsOf(resp); len(fails) > 0 || len(resp.Problems) > 0 {
			t.Errorf("problems %+v, fails %q", resp.Problems, fails)
		}
		noLocks(t, r)
	})
}

// As root, restic restores device nodes and FIFOs and keeps setuid,
// setgid and sticky bits. None of them survives the restore: the hasher
// never opens them (a FIFO used to block it for good), the sweep removes
// the nodes and clears the bits, and the listing check counts the nodes as
// skipped, not missing.
func TestRestoreSpecialFiles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("restic backs up and restores device nodes only as root")
	}
	src, r := repoOf(t, func(t *testing.T, src string) {
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.WriteFile(filepath.Join(src, "plain"), []byte("data\n"), 0o644))
		must(syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))
		must(syscall.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o666, mkdev(1, 3)))
		must(syscall.Mknod(filepath.Join(src, "loop"), syscall.S_IFBLK|0o660, mkdev(7, 200)))
		for name, mode := range map[string]fs.FileMode{"suid": 0o755 | fs.ModeSetuid, "sgid": 0o755 | fs.ModeSetgid} {
			must(os.WriteFile(filepath.Join(src, name), []byte("#!/bin/sh\n"), 0o755))
			must(os.Chmod(filepath.Join(src, name), mode))
		}
		must(os.Mkdir(filepath.Join(src, "tmp"), 0o777))
		must(os.Chmod(filepath.Join(src, "tmp"), 0o777|fs.ModeSticky))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := New()
	list, err := b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	ev := &rec{files: map[string][]byte{}}
	resp, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: target}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if fails := failsOf(resp); len(fails) > 0 || len(resp.Problems) > 0 {
		t.Fatalf("problems %+v, fails %q", resp.Problems, fails)
	}
	if c := checkNamed(resp, "listing"); c == nil || !strings.Contains(c.Detail, "all 7 entries") {
		t.Errorf("listing check %+v, want all 7 entries", c)
	}
	if got, want := resp.Details["skipped_special"], "3"; got != want {
		t.Errorf("skipped_special %q, want %q", got, want)
	}
	if got, want := resp.Details["mode_bits_dropped"], "3"; got != want {
		t.Errorf("mode_bits_dropped %q, want %q", got, want)
	}
	var left []string
	_ = filepath.WalkDir(target, func(p string, _ fs.DirEntry, _ error) error {
		fi, err := os.Lstat(p)
		if err == nil && (!fi.Mode().IsRegular() && !fi.IsDir() || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0) {
			left = append(left, p+" "+fi.Mode().String())
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("left in the restore: %q", left)
	}
	if len(ev.files) != 3 {
		t.Errorf("reported %d files, want plain, suid and sgid", len(ev.files))
	}
	noLocks(t, r)
}

// mkdev is a device number with small major and minor numbers.
func mkdev(major, minor int) int { return major<<8 | minor }

// A scratch filesystem that fills up mid-restore is an error problem that
// quotes the system's error and names the file restic was writing, not a
// fail: the backup may be fine. restic is stopped at the first such
// error rather than left to fail on every remaining file, and drops its
// lock.
func TestRestoreScratchFull(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("mounting a small tmpfs needs root: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", small).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", small, err, out)
		}
	})
	src, r := repoOf(t, func(t *testing.T, src string) {
		buf := make([]byte, 4<<20)
		for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
			rand.Read(buf)
			if err := os.WriteFile(filepath.Join(src, name), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	resp, _, err := restoreInto(t, src, filepath.Join(small, "target"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Problems) != 1 || resp.Problems[0].Kind != plugins.ProblemError {
		t.Fatalf("problems %+v, want one error", resp.Problems)
	}
	msg := resp.Problems[0].Message
	if !strings.HasPrefix(msg, "restore stopped: restic could not write \"") || !strings.Contains(msg, "into the target: no space left on device") {
		t.Errorf("problem %q, want it to name the file and quote ENOSPC", msg)
	}
	if len(resp.Checks) != 0 {
		t.Errorf("checks %+v after a stopped restore", resp.Checks)
	}
	t.Log(msg)
	noLocks(t, r)
}

// restoreInto lists src and restores its newest snapshot into target.
func restoreInto(t *testing.T, src plugins.Source, target string) (*plugins.RestoreResponse, *rec, error) {
	t.Helper()
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	b := New()
	ctx := context.Background()
	defer func() { _, _ = b.Cleanup(ctx, &plugins.CleanupRequest{Source: src}) }()
	list, err := b.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		return nil, nil, err
	}
	ev := &rec{files: map[string][]byte{}}
	resp, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: target}, ev)
	return resp, ev, err
}

// Only an error about writing into the target stops the restore as the
// machine's fault; the same words about the repository do not.
func TestGuardLocalErrors(t *testing.T) {
	const target = "/var/lib/drill/scratch/d-0123456789ab/target"
	tests := []struct {
		name string
		m    Message
		want string // the problem, "" for none
	}{
		{"scratch full", Message{Kind: "error", Text: "write " + target + "/data/c: no space left on device", Item: "/data/c"},
			`restore stopped: restic could not write "data/c" into the target: no space left on device (restic said: write ` + target + `/data/c: no space left on device)`},
		{"quota", Message{Kind: "exit_error", Text: "Fatal: mkdir " + target + "/x: disk quota exceeded"},
			`restore stopped: restic could not write into the target: disk quota exceeded (restic said: Fatal: mkdir ` + target + `/x: disk quota exceeded)`},
		{"read-only repository", Message{Kind: "exit_error", Text: "unable to create lock in backend: open /srv/repo/locks/x: read-only file system"}, ""},
		{"damage", Message{Kind: "error", Text: "decrypting blob 21de6e4f failed: ciphertext verification failed", Item: "/f"}, ""},
		{"text line", Message{Kind: "text", Text: "write " + target + "/f: no space left on device"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, g := newGuard(context.Background(), &plugins.RestoreRequest{PointID: strings.Repeat("ab", 32), Target: target})
			defer g.release()
			g.stderr(tt.m)
			var got string
			if ps := g.problems(); len(ps) == 1 && ps[0].Kind == plugins.ProblemError {
				got = ps[0].Message
			}
			if got != tt.want {
				t.Errorf("problem %q\nwant %q", got, tt.want)
			}
		})
	}
}

// restoreOverLimit restores snapshot id of src with MaxBytes limit and no
// listing first (the backend knows no summary), checks that restic's
// status stopped it with the reason, and returns how much restic reported
// having written.
func restoreOverLimit(t *testing.T, src plugins.Source, id string, limit int64) int64 {
	t.Helper()
	start := time.Now()
	resp, err := New().Restore(context.Background(), &plugins.RestoreRequest{Source: src, PointID: id, Target: t.TempDir(), MaxBytes: limit}, &rec{files: map[string][]byte{}})
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "restore would exceed max_scratch_bytes (16777216 bytes): snapshot " + id[:8] + " needs 268435462 bytes; restic was stopped after writing "
	if len(resp.Problems) != 1 || resp.Problems[0].Kind != plugins.ProblemError || !strings.HasPrefix(resp.Problems[0].Message, wantPrefix) {
		t.Fatalf("problems %+v, want one error starting %q", resp.Problems, wantPrefix)
	}
	t.Logf("%s (after %s)", resp.Problems[0].Message, time.Since(start).Round(time.Millisecond))
	// restic preallocates each file it writes, so the blocks in use say
	// nothing; what it reports having written does.
	written, err := strconv.ParseInt(strings.TrimPrefix(resp.Problems[0].Message, wantPrefix), 10, 64)
	if err != nil {
		t.Fatalf("written bytes in %q: %v", resp.Problems[0].Message, err)
	}
	return written
}
