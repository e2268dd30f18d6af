package propose

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Kind is what a target holds.
type Kind string

// The kinds of target drill init knows.
const (
	KindCopy     Kind = "directory copy"
	KindArchive  Kind = "archive"
	KindPostgres Kind = "PostgreSQL dump"
	KindMySQL    Kind = "MySQL dump"
	KindRestic   Kind = "restic repository"
	KindUnknown  Kind = ""
)

// Backend is the built-in backend that drills a kind of target.
func (k Kind) Backend() string {
	switch k {
	case KindCopy, KindArchive:
		return "filesystem"
	case KindPostgres:
		return "postgres"
	case KindMySQL:
		return "mysql"
	case KindRestic:
		return "restic"
	}
	return ""
}

// key is the backend's source key that names a target of the kind.
func (k Kind) key() string {
	switch k {
	case KindCopy:
		return "path"
	case KindArchive:
		return "archive"
	case KindPostgres, KindMySQL:
		return "dump"
	}
	return "repository"
}

// Target is one backup named on the command line, as detected.
type Target struct {
	// Arg is the target as given.
	Arg  string
	Kind Kind
	// Location is what the source key is set to: an absolute path or
	// glob, or a restic repository.
	Location string
	// Examined is the file or directory whose content told the kind (the
	// newest match of a glob); "" for a remote repository.
	Examined string
	// Note says how Location was chosen when it is not Arg as given.
	Note string
}

// ResticPrefix marks a restic repository target: restic:REPO.
const ResticPrefix = "restic:"

// remoteRepo matches restic repository locations that are not local paths.
var remoteRepo = regexp.MustCompile(`^(sftp|rest|s3|b2|azure|gs|swift|rclone):`)

// Detect finds out what a target is. Its errors name the target and say
// what drill init accepts.
func Detect(arg string) (Target, error) {
	t := Target{Arg: arg}
	if repo, ok := strings.CutPrefix(arg, ResticPrefix); ok {
		t.Kind = KindRestic
		if repo == "" {
			return t, fmt.Errorf("target %q names no repository: write restic:/path/to/repo or restic:s3:host/bucket", arg)
		}
		if remoteRepo.MatchString(repo) {
			t.Location = repo
			return t, nil
		}
		abs, err := filepath.Abs(repo)
		if err != nil {
			return t, fmt.Errorf("target %q: %w", arg, err)
		}
		if !isResticRepo(abs) {
			return t, fmt.Errorf("target %q: %s is not a restic repository (no config file and data folder in it)", arg, abs)
		}
		t.Location, t.Examined = abs, abs
		return t, nil
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return t, fmt.Errorf("target %q: %w", arg, err)
	}
	t.Location, t.Examined = abs, abs
	if strings.ContainsAny(arg, "*?[") {
		newest, err := newestMatch(abs)
		if err != nil {
			return t, fmt.Errorf("target %q: %w", arg, err)
		}
		t.Examined = newest
	}
	fi, err := os.Lstat(t.Examined)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return t, fmt.Errorf("target %q: no such file or directory", arg)
		}
		return t, fmt.Errorf("target %q: %w", arg, err)
	}
	switch {
	case fi.IsDir():
		switch {
		case isResticRepo(t.Examined):
			t.Kind, t.Location = KindRestic, t.Examined
			t.Note = "a restic repository; named " + ResticPrefix + t.Examined
		case isFile(filepath.Join(t.Examined, "toc.dat")):
			t.Kind = KindPostgres // pg_dump -Fd
		default:
			t.Kind = KindCopy
		}
	case fi.Mode().IsRegular():
		head, err := readHead(t.Examined)
		if err != nil {
			return t, fmt.Errorf("target %q: %w", arg, err)
		}
		t.Kind = Sniff(head)
		if t.Kind == KindUnknown {
			return t, fmt.Errorf("target %q: cannot tell what %s holds: drill init knows directory copies, tar archives (.tar, .tar.gz, .tar.zst), PostgreSQL dumps (custom, directory, tar, plain), MySQL/MariaDB dumps (.sql, .sql.gz) and restic repositories (restic:REPO)", arg, t.Examined)
		}
	default:
		return t, fmt.Errorf("target %q: %s is neither a regular file nor a directory (drill opens backups without following symlinks; name the file itself)", arg, t.Examined)
	}
	if t.Examined == abs && t.Kind != KindCopy && t.Kind != KindRestic {
		if g := datedGlob(abs); g != "" {
			t.Location = g
			t.Note = fmt.Sprintf("%s is dated: the drill restores the newest match of %s, so that each new backup is the one drilled", filepath.Base(abs), filepath.Base(g))
		}
	}
	return t, nil
}

// isResticRepo says whether dir looks like a local restic repository.
func isResticRepo(dir string) bool {
	d, err := os.Stat(filepath.Join(dir, "data"))
	return isFile(filepath.Join(dir, "config")) && err == nil && d.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// newestMatch returns the newest match of a glob by mtime; symlinks are
// skipped, as the backends skip them.
func newestMatch(glob string) (string, error) {
	matches, err := filepath.Glob(glob)
	if err != nil {
		return "", fmt.Errorf("bad glob: %w", err)
	}
	var newest string
	var mtime int64
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if t := fi.ModTime().UnixNano(); newest == "" || t > mtime {
			newest, mtime = m, t
		}
	}
	if newest == "" {
		return "", fmt.Errorf("the glob matches nothing (symlinks aside)")
	}
	return newest, nil
}

// digits are the runs of digits in a file name that dates and counters
// are written with.
var digits = regexp.MustCompile(`[0-9]+`)

// datedGlob returns the glob that a dated backup file's siblings match
// (home-2024-05-01.tar.gz: home-*-*-*.tar.gz), or "" when the name holds
// no date: fewer than six digits, or no other file matches the glob and
// the name holds fewer than eight.
func datedGlob(path string) string {
	name := filepath.Base(path)
	// Digits inside an extension (.tar.gz2, .sql.gz) do not count.
	stem, ext := name, ""
	for _, e := range []string{".tar.gz", ".tar.zst", ".tar.zstd", ".tar", ".tgz", ".sql.gz", ".sql", ".dump", ".pgdump", ".backup", ".gz", ".zst"} {
		if s, ok := strings.CutSuffix(name, e); ok {
			stem, ext = s, e
			break
		}
	}
	n := len(strings.Join(digits.FindAllString(stem, -1), ""))
	if n < 6 || strings.ContainsAny(stem, "*?[\\") {
		return ""
	}
	g := filepath.Join(filepath.Dir(path), digits.ReplaceAllString(stem, "*")+ext)
	matches, _ := filepath.Glob(g)
	if len(matches) < 2 && n < 8 {
		return ""
	}
	return g
}

// readHead reads the first bytes of a file, enough to tell its kind.
func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf[:n], nil
}

// Sniff tells a backup file's kind from its first bytes: gzip and zstd
// are looked into, a tar archive whose first member is toc.dat is a
// pg_dump -Ft dump, any other tar an archive.
func Sniff(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return KindUnknown
		}
		inner, _ := io.ReadAll(io.LimitReader(zr, 64<<10)) // a cut head ends in an error; what came out counts
		if k := sniffPlain(inner); k != KindUnknown {
			return k
		}
		return KindUnknown
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(head))
		if err != nil {
			return KindUnknown
		}
		defer zr.Close()
		inner, _ := io.ReadAll(io.LimitReader(zr, 64<<10))
		if k := sniffPlain(inner); k == KindArchive {
			return k // the filesystem backend reads zstd tar; the dump backends no zstd
		}
		return KindUnknown
	}
	return sniffPlain(head)
}

// sniffPlain tells the kind of uncompressed bytes.
func sniffPlain(head []byte) Kind {
	switch {
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return KindPostgres
	case len(head) >= 263 && bytes.Equal(head[257:262], []byte("ustar")):
		if h, err := tar.NewReader(bytes.NewReader(head)).Next(); err == nil && h.Name == "toc.dat" {
			return KindPostgres
		}
		return KindArchive
	}
	// SQL dumps start with a comment block; MariaDB 11 puts a sandbox
	// marker line before it.
	start := head[:min(len(head), 4096)]
	switch {
	case bytes.Contains(start, []byte("-- PostgreSQL database dump")):
		return KindPostgres
	case bytes.Contains(start, []byte("-- MySQL dump")), bytes.Contains(start, []byte("-- MariaDB dump")):
		return KindMySQL
	}
	return KindUnknown
}
