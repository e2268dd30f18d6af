package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins/plugintest"
)

// The fault suite of issue 8: hostile backups and resource faults, each
// made for real (tar archives written here, directory trees on disk,
// restic repositories made with the pinned restic, a small tmpfs as the
// scratch filesystem, a plugin process that corrupts its gRPC stream) and
// drilled with the real drill binary. Every case asserts the verdict and
// exit code, the reasons, the record's details, that nothing outside
// scratch changed (a sentinel tree the backups point into, the backup
// itself, the state directory, the host's /etc/passwd and /etc/hosts),
// that scratch is empty afterwards, that no process drill started is left,
// no restic lock either, and that the evidence log still verifies.
//
// DRILL_FAULT_BIG=1 runs the many-files cases with 1,000,000 files and the
// gzip bomb at 16 GiB; the figures (wall time, peak RSS) are logged with
// -v and kept in docs/faults.md.
func TestFaultSuite(t *testing.T) {
	big := os.Getenv("DRILL_FAULT_BIG") != ""
	// A small file takes a page of a tmpfs.
	manyFiles, bombGiB, tmpfsSize, manyTimeout := 200_000, int64(1), "2g", "2m"
	// Landlock checks an access by walking from the file up to the folder
	// its rule is on (scratch), so each step down a deep tree costs more
	// in a confined plugin: a tree of 1,000 levels (past PATH_MAX with
	// 3-byte names) takes many times longer than unconfined, and restoring
	// is quadratic in the depth (docs/sandbox.md, "Cost"), so the cases
	// reach past PATH_MAX with as few levels as do.
	const deepTimeout = "15m"
	if big {
		manyFiles, bombGiB, tmpfsSize, manyTimeout = 1_000_000, 16, "6g", "30m"
	}
	// A directory copy of eight sparse 64 MiB files: 512 MiB that take no
	// room in the backup.
	sparseCopy := func(t *testing.T, fx *fixture) string {
		dir := fx.path("copy")
		mustT(t, os.MkdirAll(dir, 0o755))
		for i := range 8 {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%d", i)))
			mustT(t, err)
			mustT(t, f.Truncate(64<<20))
			mustT(t, f.Close())
		}
		return fmt.Sprintf("{path: %q}", dir)
	}
	// A restic snapshot of a small file and 256 MiB of zeros: restic reads
	// the zeros to back them up; the repository holds a few kilobytes.
	zeroSnapshot := func(t *testing.T, fx *fixture) string {
		return fx.resticRepo(t, func(src string) {
			mustT(t, os.WriteFile(filepath.Join(src, "readme.txt"), []byte("small\n"), 0o644))
			f, err := os.Create(filepath.Join(src, "zeros.bin"))
			mustT(t, err)
			mustT(t, f.Truncate(256<<20))
			mustT(t, f.Close())
		})
	}
	cases := []faultCase{
		{
			name:       "tar/gzip_bomb",
			maxScratch: "64MiB",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.archive(t, "bomb.tar.gz", func(tw *tar.Writer) {
					tarFile(t, tw, "readme.txt", 0o644, strings.NewReader("a small file first\n"), 19)
					tarFile(t, tw, "bomb/zeros.bin", 0o644, zeros{}, bombGiB<<30)
				})
			},
			verdict: "error",
			reasons: []string{fmt.Sprintf(`restore would exceed max_scratch_bytes (67108864 bytes): stopped before "bomb/zeros.bin" (%d bytes)`, bombGiB<<30)},
			files:   1,
		},
		{
			name:       "tar/zstd_bomb",
			maxScratch: "64MiB",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.archive(t, "bomb.tar.zst", func(tw *tar.Writer) {
					for i := range 64 {
						tarFile(t, tw, fmt.Sprintf("z/f%02d", i), 0o644, zeros{}, 16<<20)
					}
				})
			},
			verdict: "error",
			reasons: []string{`restore would exceed max_scratch_bytes (67108864 bytes): stopped before "z/f04" (16777216 bytes)`},
			files:   4,
		},
		{
			name:       "dircopy/too_big",
			maxScratch: "100MiB",
			backup:     sparseCopy,
			// The preflight: the copy's size is known, nothing is written.
			verdict: "error",
			reasons: []string{`is 512.0 MiB, more than max_scratch_bytes (100.0 MiB): nothing was restored`},
			files:   0,
		},
		{
			name:       "dircopy/too_big_sampled",
			maxScratch: "100MiB",
			backup:     sparseCopy,
			drill:      ", sample: {percent: 100}", // no preflight: the copy stops itself
			verdict:    "error",
			reasons:    []string{`restore would exceed max_scratch_bytes (104857600 bytes): stopped at "f1"`},
			files:      -1, // f0 may or may not be done when the walk stops the copy
		},
		{
			name:       "restic/zero_file_bomb",
			maxScratch: "64MiB",
			backup:     zeroSnapshot,
			// The preflight: the snapshot's summary gives its size.
			verdict: "error",
			reasons: []string{"is 256.0 MiB, more than max_scratch_bytes (64.0 MiB): nothing was restored"},
			files:   0,
		},
		{
			name:       "restic/zero_file_bomb_sampled",
			maxScratch: "64MiB",
			backup:     zeroSnapshot,
			drill:      ", sample: {percent: 100}", // no preflight: the plugin refuses it
			verdict:    "error",
			reasons:    []string{"restore would exceed max_scratch_bytes (67108864 bytes): snapshot ", " holds 268435462 bytes by its summary; restic was not started"},
			files:      0,
		},
		{
			name: "tar/deep_tree",
			backup: func(t *testing.T, fx *fixture) string {
				// 1,000 levels and a long name: 4,200 bytes of path below
				// the target, past PATH_MAX (4,096).
				deep := strings.Repeat("ddd/", 1000)
				return fx.archive(t, "deep.tar", func(tw *tar.Writer) {
					tarFile(t, tw, deep+strings.Repeat("l", 200), 0o644, strings.NewReader("deep\n"), 5)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: deep + "up", Linkname: "../.."})
					tarFile(t, tw, "top.txt", 0o644, strings.NewReader("top\n"), 4)
				})
			},
			verdict: "pass",
			timeout: deepTimeout,
			files:   2,
		},
		{
			name: "dircopy/deep_tree",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				deepTree(t, dir, "ddd", 1000, strings.Repeat("l", 200))
				return fmt.Sprintf("{path: %q}", dir)
			},
			verdict: "pass",
			timeout: deepTimeout,
			files:   1,
		},
		{
			name: "tar/name_max",
			backup: func(t *testing.T, fx *fixture) string {
				// 16 directories and a file, each named with NAME_MAX (255)
				// bytes: a path of 4,351 bytes.
				n := strings.Repeat("n", 255)
				long := strings.Repeat(n+"/", 16) + strings.Repeat("f", 255)
				return fx.archive(t, "long.tar", func(tw *tar.Writer) {
					tarFile(t, tw, long, 0o644, strings.NewReader("long\n"), 5)
					tarFile(t, tw, strings.Repeat("x", 255), 0o644, strings.NewReader("name max\n"), 9)
				})
			},
			verdict: "pass",
			files:   2,
		},
		{
			name: "tar/name_too_long",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.archive(t, "toolong.tar", func(tw *tar.Writer) {
					tarFile(t, tw, strings.Repeat("y", 256), 0o644, strings.NewReader("x"), 1)
					tarFile(t, tw, "ok.txt", 0o644, strings.NewReader("ok\n"), 3)
				})
			},
			verdict: "fail",
			reasons: []string{strconv.Quote(strings.Repeat("y", 256)) + ` could not be restored: file name too long`},
			files:   1,
		},
		{
			name: "dircopy/name_max",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				deepTree(t, dir, strings.Repeat("n", 255), 16, strings.Repeat("f", 255))
				return fmt.Sprintf("{path: %q}", dir)
			},
			verdict: "pass",
			files:   1,
		},
		{
			name: "tar/special_files",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.archive(t, "special.tar", func(tw *tar.Writer) {
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o644})
					tarFile(t, tw, "suid", 0o4755, strings.NewReader("#!/bin/sh\n"), 10)
					tarFile(t, tw, "sgid", 0o2755, strings.NewReader("#!/bin/sh\n"), 10)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeDir, Name: "tmp", Mode: 0o1777})
					tarFile(t, tw, "tmp/plain", 0o644, strings.NewReader("data\n"), 5)
				})
			},
			verdict: "pass",
			details: map[string]string{"skipped_special": "3"},
			files:   3,
		},
		{
			name: "dircopy/special_files",
			root: true,
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				specialTree(t, dir)
				return fmt.Sprintf("{path: %q}", dir)
			},
			// A FIFO opened for reading would block the copy until the
			// drill's timeout, a fail.
			verdict: "pass",
			details: map[string]string{"skipped_special": "4"}, // FIFO, two devices, socket
			files:   3,
		},
		{
			name: "restic/special_files",
			root: true,
			backup: func(t *testing.T, fx *fixture) string {
				return fx.resticRepo(t, func(src string) { specialTree(t, src) })
			},
			verdict: "pass",
			// restic does not back up sockets; it restores the FIFO and
			// the devices, which drill removes, and keeps the setuid,
			// setgid and sticky bits, which drill clears.
			details: map[string]string{"skipped_special": "3", "mode_bits_dropped": "3"},
			files:   3,
		},
		{
			name: "tar/hardlinks_out",
			backup: func(t *testing.T, fx *fixture) string {
				etc := fx.path("outside/etc")
				return fx.archive(t, "links.tar", func(tw *tar.Writer) {
					tarFile(t, tw, "ok.txt", 0o644, strings.NewReader("ok\n"), 3)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeLink, Name: "up", Linkname: "../../../../outside/etc/passwd"})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeLink, Name: "abs", Linkname: etc + "/passwd"})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeLink, Name: "etc-passwd", Linkname: "/etc/passwd"})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: "etc", Linkname: etc})
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeLink, Name: "through", Linkname: "etc/passwd"})
					// Content for the linked names: written through the
					// link, this would overwrite the target.
					tarFile(t, tw, "abs", 0o644, strings.NewReader("owned\n"), 6)
				})
			},
			verdict: "fail",
			reasons: []string{
				`hard link "up" -> "../../../../outside/etc/passwd" was not restored: its target has a ".." component`,
				`hard link "etc-passwd" -> "/etc/passwd" was not restored: its target is absolute`,
				`hard link "through" -> "etc/passwd" was not restored`,
				`hard link "abs" -> "`, `/outside/etc/passwd" was not restored: its target is absolute`,
			},
			files: 2, // ok.txt and abs, a new file in scratch
		},
		{
			name: "tar/symlinks_out",
			backup: func(t *testing.T, fx *fixture) string {
				etc := fx.path("outside/etc")
				return fx.archive(t, "symlinks.tar", func(tw *tar.Writer) {
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: "etc", Linkname: "/etc"})
					tarFile(t, tw, "etc/drill-fault-probe", 0o644, strings.NewReader("owned\n"), 6)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: "fake", Linkname: etc})
					tarFile(t, tw, "fake/passwd", 0o644, strings.NewReader("owned\n"), 6)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: "up", Linkname: ".."})
					tarFile(t, tw, "up/escaped", 0o644, strings.NewReader("owned\n"), 6)
					tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeSymlink, Name: "sub/upup", Linkname: "../.."})
					tarFile(t, tw, "sub/upup/escaped", 0o644, strings.NewReader("owned\n"), 6)
					tarFile(t, tw, "ok.txt", 0o644, strings.NewReader("ok\n"), 3)
				})
			},
			// The symlinks are restored as they are (a real folder's
			// links to /etc are good backup); the files the archive
			// puts through them are refused.
			verdict: "fail",
			reasons: []string{
				`"etc/drill-fault-probe" was not restored: "etc" is a symlink, not a directory (a restore never writes through one)`,
				`"fake/passwd" was not restored: "fake" is a symlink, not a directory (a restore never writes through one)`,
				`"up/escaped" was not restored: "up" is a symlink, not a directory (a restore never writes through one)`,
				`"sub/upup/escaped" was not restored: "sub/upup" is a symlink, not a directory (a restore never writes through one)`,
			},
			files: 1,
		},
		{
			name: "dircopy/symlinks_out",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				linkTree(t, dir, fx.path("outside/etc"))
				return fmt.Sprintf("{path: %q}", dir)
			},
			// As restic: symlinks come back as symlinks, never followed;
			// one regular file is hashed, not /etc/passwd through "passwd".
			verdict: "pass",
			files:   1,
		},
		{
			name: "restic/symlinks_out",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.resticRepo(t, func(src string) { linkTree(t, src, fx.path("outside/etc")) })
			},
			// restic restores symlinks as symlinks and never follows
			// them; neither does drill: one regular file is hashed, not
			// /etc/passwd through "passwd".
			verdict: "pass",
			files:   1,
		},
		{
			name: "tar/many_files",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.archive(t, "many.tar.gz", func(tw *tar.Writer) {
					for i := range manyFiles {
						body := fmt.Sprintf("file %d\n", i)
						tarFile(t, tw, fmt.Sprintf("d%04d/f%06d", i/200, i), 0o644, strings.NewReader(body), int64(len(body)))
					}
				})
			},
			verdict: "pass",
			files:   int64(manyFiles),
			figures: true,
			timeout: manyTimeout,
		},
		{
			name: "dircopy/many_files",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				// The copy on a tmpfs when possible: writing 200,000 files
				// to this disk takes a minute, and the copy's medium is not
				// what the case is about (the restore goes to disk).
				mustT(t, os.MkdirAll(dir, 0o755))
				if err := mount(t, dir, tmpfsSize); err != nil {
					t.Logf("the copy goes to disk: %v", err)
				}
				manyTree(t, dir, manyFiles)
				return fmt.Sprintf("{path: %q}", dir)
			},
			verdict: "pass",
			files:   int64(manyFiles),
			figures: true,
			timeout: manyTimeout,
		},
		{
			name:  "scratch_full/tar",
			tmpfs: "8m",
			backup: func(t *testing.T, fx *fixture) string {
				// 16 MiB of zeros in a few KB: the archive passes the
				// preflight, its content fills the tmpfs.
				return fx.archive(t, "big.tar.gz", func(tw *tar.Writer) {
					for _, name := range []string{"a", "b", "c", "d"} {
						tarFile(t, tw, "data/"+name, 0o644, zeros{}, 4<<20)
					}
				})
			},
			verdict: "error",
			reasons: []string{`restore stopped: writing "data/`, `" into the target: no space left on device`},
			files:   -1,
		},
		{
			name:  "scratch_too_small/dircopy",
			tmpfs: "8m",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				randomFiles(t, filepath.Join(dir, "data"), 4, 4<<20)
				return fmt.Sprintf("{path: %q}", dir)
			},
			verdict: "error",
			reasons: []string{"is 16.0 MiB, but the scratch filesystem at ", " has 8.0 MiB free: nothing was restored"},
			files:   0,
		},
		{
			name:  "scratch_too_small/restic",
			tmpfs: "8m",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.resticRepo(t, func(src string) { randomFiles(t, filepath.Join(src, "data"), 4, 4<<20) })
			},
			verdict: "error",
			reasons: []string{"is 16.0 MiB, but the scratch filesystem at ", " has 8.0 MiB free: nothing was restored"},
			files:   0,
		},
		{
			name:  "scratch_full/dircopy",
			tmpfs: "8m",
			backup: func(t *testing.T, fx *fixture) string {
				dir := fx.path("copy")
				randomFiles(t, filepath.Join(dir, "data"), 4, 4<<20)
				return fmt.Sprintf("{path: %q}", dir)
			},
			drill:   ", sample: {percent: 100}", // past the preflight: the restore meets the full disk
			verdict: "error",
			reasons: []string{`restore stopped: writing "data/`, `" into the target: no space left on device`},
			files:   -1,
		},
		{
			name:  "scratch_full/restic",
			tmpfs: "8m",
			backup: func(t *testing.T, fx *fixture) string {
				return fx.resticRepo(t, func(src string) { randomFiles(t, filepath.Join(src, "data"), 4, 4<<20) })
			},
			drill:   ", sample: {percent: 100}", // past the preflight: the restore meets the full disk
			verdict: "error",
			reasons: []string{`restore stopped: restic could not write "data/`, `" into the target: no space left on device`},
			files:   -1,
		},
		{
			name:   "plugin/garbage_on_grpc",
			plugin: "corrupt",
			backup: func(t *testing.T, fx *fixture) string { return "{name: corrupt}" },
			// The reason names the backend and what broke; the plugin
			// process, which blocks after its garbage, is stopped.
			verdict: "error",
			reasons: []string{`restore (backend corrupt): backend "corrupt": Restore: connection to the plugin lost: `},
			files:   -1,
		},
	}
	var figures []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if f := c.run(t); f != "" {
				figures = append(figures, f)
			}
		})
	}
	for _, f := range figures {
		t.Log("figure: " + f)
	}
}

// faultCase is one hostile backup or resource fault.
type faultCase struct {
	name string
	// root: the backup can only be made as root (device nodes).
	root bool
	// tmpfs mounts a tmpfs of this size as the scratch root.
	tmpfs string
	// maxScratch is the config's max_scratch_bytes, when set.
	maxScratch string
	// plugin is a test plugin mode: the drill's backend is that plugin.
	plugin string
	// backup makes the backup below fx and returns the drill's source as
	// YAML; the backend follows from the name's first element.
	backup func(t *testing.T, fx *fixture) string
	// verdict is the record's; each of reasons is in some reason (none
	// with a pass); details must be in the record's details.
	verdict record.Verdict
	reasons []string
	details map[string]string
	// files is the record's file count, -1 for any.
	files int64
	// figures logs the wall time and the peak RSS of drill run.
	figures bool
	// timeout is the drill's; 2m when empty.
	timeout string
	// drill is more of the drill's YAML mapping, such as ", sample:
	// {percent: 100}": a sampled drill is not preflighted, so its restore
	// meets the limits while it writes.
	drill string
}

// fixture is the directory of one case: the backup, a sentinel tree the
// backups point into (outside/etc), and the state directory.
type fixture struct {
	dir   string
	state string
}

func (fx *fixture) path(rel string) string { return filepath.Join(fx.dir, filepath.FromSlash(rel)) }

func (c faultCase) run(t *testing.T) string {
	if c.root && os.Getuid() != 0 {
		t.Skip("making this backup needs root (device nodes)")
	}
	fx := &fixture{dir: t.TempDir()}
	fx.state = fx.path("state")
	unlockAll(t, fx.dir)
	sentinel(t, fx.path("outside/etc"))
	setup := time.Now()
	source := c.backup(t, fx)
	t.Logf("backup made in %s", time.Since(setup).Round(time.Millisecond))
	scratchRoot := filepath.Join(fx.state, "scratch")
	mustT(t, os.MkdirAll(scratchRoot, 0o700))
	if c.tmpfs != "" {
		mountTmpfs(t, scratchRoot, c.tmpfs)
	}

	backend, _, _ := strings.Cut(c.name, "/")
	backend = map[string]string{"tar": "filesystem", "dircopy": "filesystem", "restic": "restic", "plugin": c.plugin}[backend]
	if kind, ok := strings.CutPrefix(c.name, "scratch_full/"); ok {
		backend = map[string]string{"tar": "filesystem", "dircopy": "filesystem", "restic": "restic"}[kind]
	}
	if kind, ok := strings.CutPrefix(c.name, "scratch_too_small/"); ok {
		backend = map[string]string{"dircopy": "filesystem", "restic": "restic"}[kind]
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "state_dir: %s\n", fx.state)
	if c.maxScratch != "" {
		fmt.Fprintf(&cfg, "max_scratch_bytes: %s\n", c.maxScratch)
	}
	cfg.WriteString("services: {s: {owner: ops@example.org}}\n")
	var exes []string // executables of the processes the drill may start
	exes = append(exes, drillBin, resticBinary())
	if c.plugin != "" {
		path, sum := plugintest.Build(t, "github.com/drillhq/drill/plugins/internal/testplugin", "-ldflags", "-X main.mode="+c.plugin)
		fmt.Fprintf(&cfg, "plugins:\n  %s: {path: %s, sha256: %s}\n", backend, path, sum)
		exes = append(exes, path)
	}
	name := strings.NewReplacer("/", "-", "_", "-").Replace(c.name)
	timeout := c.timeout
	if timeout == "" {
		timeout = "2m"
	}
	fmt.Fprintf(&cfg, "drills:\n  %s: {service: s, backend: %s, timeout: %s, source: %s%s}\n", name, backend, timeout, source, c.drill)
	cfgPath := fx.path("drill.yaml")
	mustT(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o644))

	setup = time.Now()
	before := snapshotOutside(t, fx)
	t.Logf("outside snapshot taken in %s", time.Since(setup).Round(time.Millisecond))
	procsBefore := processesOf(exes)

	cmd := exec.Command(drillBin, "-c", cfgPath, "run", "--json", name)
	cmd.Env = append(os.Environ(), "DRILL_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := cmd.ProcessState.ExitCode()
	// The largest resident set of drill run and of the processes it
	// waited for (the plugin, restic): KiB on Linux.
	maxRSS := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss

	// The verdict, its exit code and its reasons.
	var rec record.Record
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rec); err != nil {
		t.Fatalf("drill run: exit %d, no record (%v)\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	t.Logf("verdict %s in %s, %d files; reasons %q; details %v", rec.Verdict, wall.Round(time.Millisecond), rec.Files, rec.Reasons, rec.Details)
	wantCode := map[record.Verdict]int{"pass": exitOK, "fail": exitFail, "error": exitError}[c.verdict]
	if rec.Verdict != c.verdict || code != wantCode {
		t.Errorf("verdict %s, exit %d; want %s, exit %d\nstderr:\n%s", rec.Verdict, code, c.verdict, wantCode, stderr.String())
	}
	for _, w := range c.reasons {
		if !slices.ContainsFunc(rec.Reasons, func(r string) bool { return strings.Contains(r, w) }) {
			t.Errorf("no reason says %q", w)
		}
	}
	if c.verdict == "pass" && len(rec.Reasons) != 0 {
		t.Errorf("a pass with reasons %q", rec.Reasons)
	}
	for k, v := range c.details {
		if rec.Details[k] != v {
			t.Errorf("details[%s] = %q, want %q", k, rec.Details[k], v)
		}
	}
	if c.files >= 0 && rec.Files != c.files {
		t.Errorf("%d files in the record, want %d", rec.Files, c.files)
	}
	for _, out := range []string{stdout.String(), stderr.String()} {
		for _, bad := range []string{"panic:", "goroutine ", "runtime error", "fatal error:"} {
			if strings.Contains(out, bad) {
				t.Errorf("drill's output has %q:\n%s", bad, out)
			}
		}
	}

	// Scratch is empty, and so is the small filesystem under it.
	if ents, err := os.ReadDir(scratchRoot); err != nil || len(ents) != 0 {
		t.Errorf("scratch root holds %d entries (%v)", len(ents), err)
	}
	if c.tmpfs != "" {
		var st syscall.Statfs_t
		mustT(t, syscall.Statfs(scratchRoot, &st))
		if st.Bfree != st.Blocks {
			t.Errorf("the scratch tmpfs still has %d blocks in use", st.Blocks-st.Bfree)
		}
	}
	// Nothing outside scratch changed.
	after := snapshotOutside(t, fx)
	for _, d := range diffSnapshots(before, after) {
		t.Errorf("outside scratch: %s", d)
	}
	// Nothing drill started is still running.
	if left := processesOf(exes); len(left) > len(procsBefore) {
		for pid, exe := range left {
			if _, ok := procsBefore[pid]; !ok {
				t.Errorf("process %d (%s) outlived drill run", pid, exe)
			}
		}
	}
	// The record is in the log, and the log verifies.
	if h := history(t, cfgPath, name); len(h) != 1 || h[0].Verdict != rec.Verdict {
		t.Errorf("history holds %d records (%+v), want the one drill run printed", len(h), h)
	}
	if out, errs, code := drillCmd(t, cfgPath, "evidence", "verify"); code != 0 || !strings.Contains(out, "evidence log verified") {
		t.Errorf("evidence verify: exit %d\n%s%s", code, out, errs)
	}
	if c.figures {
		return fmt.Sprintf("%s: %d files, drill run %s wall, peak RSS %d MiB", c.name, rec.Files, wall.Round(100*time.Millisecond), maxRSS>>10)
	}
	return ""
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func resticBinary() string { return filepath.Join(filepath.Dir(drillBin), "restic") }

// sentinel makes a small /etc of its own for backups to point into.
func sentinel(t *testing.T, etc string) {
	mustT(t, os.MkdirAll(filepath.Join(etc, "cron.d"), 0o755))
	mustT(t, os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
	mustT(t, os.WriteFile(filepath.Join(etc, "shadow"), []byte("root:*:19000:0:99999:7:::\n"), 0o600))
	mustT(t, os.WriteFile(filepath.Join(etc, "cron.d", "job"), []byte("* * * * * root true\n"), 0o644))
}

// archive writes a tar archive below fx, compressed by its extension,
// and returns the source for it.
func (fx *fixture) archive(t *testing.T, name string, entries func(tw *tar.Writer)) string {
	t.Helper()
	path := fx.path("backup/" + name)
	mustT(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	mustT(t, err)
	var w io.WriteCloser = nopCloser{f}
	switch {
	case strings.HasSuffix(name, ".gz"):
		w, err = gzip.NewWriterLevel(f, gzip.BestSpeed)
	case strings.HasSuffix(name, ".zst"):
		w, err = zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	}
	mustT(t, err)
	tw := tar.NewWriter(w)
	entries(tw)
	mustT(t, tw.Close())
	mustT(t, w.Close())
	mustT(t, f.Close())
	if fi, err := os.Stat(path); err == nil {
		t.Logf("archive %s: %d bytes", name, fi.Size())
	}
	return fmt.Sprintf("{archive: %q}", path)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func tarEntry(t *testing.T, tw *tar.Writer, h *tar.Header) {
	t.Helper()
	h.Format = tar.FormatPAX
	if h.ModTime.IsZero() {
		h.ModTime = time.Now().Add(-time.Hour)
	}
	mustT(t, tw.WriteHeader(h))
}

func tarFile(t *testing.T, tw *tar.Writer, name string, mode int64, r io.Reader, size int64) {
	t.Helper()
	tarEntry(t, tw, &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size})
	if _, err := io.CopyN(tw, r, size); err != nil {
		t.Fatal(err)
	}
}

// resticRepo makes a restic repository below fx holding one snapshot of
// the tree build makes, and returns the source for it.
func (fx *fixture) resticRepo(t *testing.T, build func(src string)) string {
	t.Helper()
	src, repo, pw := fx.path("backup/src"), fx.path("backup/repo"), fx.path("backup/pw")
	mustT(t, os.MkdirAll(src, 0o755))
	build(src)
	mustT(t, os.WriteFile(pw, []byte("fault suite\n"), 0o600))
	for _, args := range [][]string{{"init"}, {"backup", "--host", "drill-fault", "."}} {
		cmd := exec.Command(resticBinary(), append([]string{"-r", repo, "--password-file", pw, "-q", "--no-cache"}, args...)...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() {
		if ents, _ := os.ReadDir(filepath.Join(repo, "locks")); len(ents) != 0 {
			t.Errorf("the repository has %d locks left", len(ents))
		}
	})
	return fmt.Sprintf("{repository: %q, password_file: %q, restic_binary: %q}", repo, pw, resticBinary())
}

// specialTree makes a FIFO, a character and a block device, a unix
// socket, setuid and setgid files and a sticky directory in dir.
func specialTree(t *testing.T, dir string) {
	t.Helper()
	mustT(t, os.MkdirAll(filepath.Join(dir, "dev"), 0o755))
	mustT(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	mustT(t, syscall.Mknod(filepath.Join(dir, "dev/null"), syscall.S_IFCHR|0o666, 1<<8|3))
	mustT(t, syscall.Mknod(filepath.Join(dir, "dev/sda"), syscall.S_IFBLK|0o660, 8<<8))
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	mustT(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	for name, mode := range map[string]fs.FileMode{"suid": 0o755 | fs.ModeSetuid, "sgid": 0o755 | fs.ModeSetgid} {
		mustT(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755))
		mustT(t, os.Chmod(filepath.Join(dir, name), mode))
	}
	mustT(t, os.Mkdir(filepath.Join(dir, "tmp"), 0o777))
	mustT(t, os.Chmod(filepath.Join(dir, "tmp"), 0o777|fs.ModeSticky))
	mustT(t, os.WriteFile(filepath.Join(dir, "tmp/plain"), []byte("data\n"), 0o644))
}

// linkTree makes symlinks to /etc, /etc/passwd, a sentinel /etc, .. and
// ../.. in dir, and one regular file.
func linkTree(t *testing.T, dir, fakeEtc string) {
	t.Helper()
	mustT(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	mustT(t, os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("ok\n"), 0o644))
	for link, target := range map[string]string{"etc": "/etc", "passwd": "/etc/passwd", "fake": fakeEtc, "up": "..", "sub/upup": "../.."} {
		mustT(t, os.Symlink(target, filepath.Join(dir, link)))
	}
}

// deepTree makes depth nested directories named name below dir and a
// file leaf at the bottom, going down by descriptor so that the tree may
// be deeper than PATH_MAX.
func deepTree(t *testing.T, dir, name string, depth int, leaf string) {
	t.Helper()
	mustT(t, os.MkdirAll(dir, 0o755))
	r, err := os.OpenRoot(dir)
	mustT(t, err)
	for range depth {
		mustT(t, r.Mkdir(name, 0o755))
		sub, err := r.OpenRoot(name)
		mustT(t, err)
		_ = r.Close()
		r = sub
	}
	mustT(t, r.WriteFile(leaf, []byte("deep\n"), 0o644))
	_ = r.Close()
}

// manyTree writes n small files into directories of 200 below dir.
func manyTree(t *testing.T, dir string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			for d := w; d*200 < n; d += 2 {
				sub := filepath.Join(dir, fmt.Sprintf("d%04d", d))
				if err := os.MkdirAll(sub, 0o755); err != nil {
					errs <- err
					return
				}
				for i := d * 200; i < min(n, (d+1)*200); i++ {
					if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), fmt.Appendf(nil, "file %d\n", i), 0o644); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	mustT(t, <-errs)
}

// randomFiles writes n files of size random bytes into dir.
func randomFiles(t *testing.T, dir string, n int, size int64) {
	t.Helper()
	mustT(t, os.MkdirAll(dir, 0o755))
	for i := range n {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		mustT(t, err)
		_, err = io.CopyN(f, rand.Reader, size)
		mustT(t, err)
		mustT(t, f.Close())
	}
}

// mountTmpfs mounts a tmpfs of size at dir for the rest of the test, or
// skips the test when mounting is not permitted.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := mount(t, dir, size); err != nil {
		t.Skipf("mounting a %s tmpfs needs root (CI runs as root): %v", size, err)
	}
}

// mount mounts a tmpfs of size at dir (mode 0700) until the test ends.
func mount(t *testing.T, dir, size string) error {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}

// unlockAll gives the owner write permission on every directory below
// dir when the test ends, so that it can be removed.
func unlockAll(t *testing.T, dir string) {
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

// node is what a snapshot keeps of one entry. Every write, chmod, chown
// or link changes an entry's ctime, which no one can set back; the files
// of the sentinel tree and the host's /etc are hashed too.
type node struct {
	mode         fs.FileMode
	size         int64
	mtime, ctime int64
	sum          string // hashed regular files: SHA-256; symlinks: the target
}

// snapshotOutside records everything below the case's directory but the
// scratch root and what drill keeps in the state directory (the evidence
// store and the keys), plus the host's /etc/passwd and /etc/hosts and
// the absence of /etc/drill-fault-probe.
func snapshotOutside(t *testing.T, fx *fixture) map[string]node {
	t.Helper()
	snap := map[string]node{}
	skip := map[string]bool{
		filepath.Join(fx.state, "scratch"):  true,
		filepath.Join(fx.state, "keys"):     true,
		filepath.Join(fx.state, "drill.db"): true,
	}
	add := func(p string) {
		fi, err := os.Lstat(p)
		if err != nil {
			snap[p] = node{sum: "missing"}
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		n := node{mode: fi.Mode(), ctime: st.Ctim.Nano()}
		switch {
		case fi.IsDir(): // a directory's times change with a lock file come and gone
			n.ctime = 0
		case fi.Mode().IsRegular():
			n.size, n.mtime = fi.Size(), st.Mtim.Nano()
			if !strings.HasPrefix(p, fx.path("backup")+"/") && !strings.HasPrefix(p, fx.path("copy")+"/") {
				f, err := os.Open(p)
				mustT(t, err)
				h := sha256.New()
				_, err = io.Copy(h, f)
				_ = f.Close()
				mustT(t, err)
				n.sum = fmt.Sprintf("%x", h.Sum(nil))
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			n.sum, _ = os.Readlink(p)
		}
		snap[p] = n
	}
	// The walk goes by path; deep trees are covered down to PATH_MAX,
	// and anything escaping would land near the top anyway (next to the
	// backup, in the sentinel tree, in the state directory).
	_ = filepath.WalkDir(fx.dir, func(p string, d fs.DirEntry, err error) error {
		if skip[p] {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, syscall.ENAMETOOLONG) {
				return filepath.SkipDir
			}
			return err
		}
		add(p)
		return nil
	})
	for _, p := range []string{"/etc/passwd", "/etc/hosts", "/etc/drill-fault-probe"} {
		add(p)
	}
	// The state directory holds drill's own files and nothing else.
	ents, _ := os.ReadDir(fx.state)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	snap["state entries: "+strings.Join(names, " ")] = node{}
	return snap
}

// diffSnapshots lists what differs between two snapshots.
func diffSnapshots(before, after map[string]node) []string {
	var d []string
	for p, b := range before {
		if strings.HasPrefix(p, "state entries: ") {
			continue
		}
		a, ok := after[p]
		switch {
		case !ok:
			d = append(d, p+" was removed")
		case a != b:
			d = append(d, fmt.Sprintf("%s changed: %+v -> %+v", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; ok {
			continue
		}
		if strings.HasPrefix(p, "state entries: ") {
			if names := strings.Fields(strings.TrimPrefix(p, "state entries: ")); slices.ContainsFunc(names, func(n string) bool {
				return n != "drill.db" && n != "keys" && n != "scratch"
			}) {
				d = append(d, "the state directory holds more than drill.db, keys and scratch: "+p)
			}
			continue
		}
		d = append(d, p+" appeared")
	}
	slices.Sort(d)
	return d
}

// processesOf returns the running processes whose executable is one of
// exes, by pid.
func processesOf(exes []string) map[int]string {
	procs := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		exe, err := os.Readlink(filepath.Join(d, "exe"))
		if err != nil || !slices.Contains(exes, exe) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		procs[pid] = exe
	}
	return procs
}
