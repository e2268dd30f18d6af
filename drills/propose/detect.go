package propose

import (
	"bufio"
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

	"github.com/drillhq/drill/plugins/postgres"
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
		f, err := os.Open(t.Examined)
		if err != nil {
			return t, fmt.Errorf("target %q: %w", arg, err)
		}
		t.Kind = sniffReader(f)
		_ = f.Close() // read-only
		if t.Kind == KindUnknown {
			return t, fmt.Errorf("target %q: cannot tell what %s holds: drill init knows directory copies, tar archives (.tar, .tar.gz, .tar.zst), PostgreSQL dumps (custom, directory, tar, plain, plain gzip'd or zstd'd), MySQL/MariaDB dumps (plain, gzip'd or zstd'd) and restic repositories (restic:REPO)", arg, t.Examined)
		}
	default:
		return t, fmt.Errorf("target %q: %s is neither a regular file nor a directory (drill opens backups without following symlinks; name the file itself)", arg, t.Examined)
	}
	if t.Examined == abs && t.Kind != KindRestic {
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

// datedGlob returns the glob that a dated backup's siblings match
// (home-2024-05-01.tar.gz: home-*-*-*.tar.gz), or "" when the name holds
// no date: fewer than six digits, or no other file matches the glob and
// the name holds fewer than eight.
func datedGlob(path string) string {
	g, n := digitGlob(path)
	if n < 6 {
		return ""
	}
	matches, _ := filepath.Glob(g)
	if len(matches) < 2 && n < 8 {
		return ""
	}
	return g
}

// digitGlob returns path with every run of digits in its name replaced
// by * (home-2024-05-01.tar.gz: home-*-*-*.tar.gz), and how many digits
// were replaced; "" when the name holds glob characters already.
func digitGlob(path string) (string, int) {
	name := filepath.Base(path)
	stem, ext := cutExt(name) // digits inside an extension (.tar.gz2) do not count
	n := len(strings.Join(digits.FindAllString(stem, -1), ""))
	if strings.ContainsAny(stem, "*?[\\") {
		return "", 0
	}
	return filepath.Join(filepath.Dir(path), digits.ReplaceAllString(stem, "*")+ext), n
}

// cutExt splits a backup's file name into its stem and the extension
// backup tools give it (".tar.gz", ".sql"), "" when it has none of them.
func cutExt(name string) (stem, ext string) {
	for _, e := range []string{".tar.gz", ".tar.zst", ".tar.zstd", ".tar", ".tgz", ".sql.gz", ".sql.zst", ".sql", ".dump", ".pgdump", ".backup", ".gz", ".zst"} {
		if s, ok := strings.CutSuffix(name, e); ok {
			return s, e
		}
	}
	return name, ""
}

// Series merges the targets that are one backup series into one target:
// those whose locations are the same (home-2024-05-01.tar.gz given with
// its dated siblings, or a folder given twice), and files or folders of
// one kind in one folder whose names differ only in their digits
// (home-1.tar.gz home-2.tar.gz, daily.0 daily.1). That is what a glob the
// shell expanded gives; one drill per file would drill old backups
// forever. A merged target's location is the glob its members match, and
// it is examined at its newest member.
func Series(ts []Target) []Target {
	keyOf := func(t Target) string {
		if t.Kind == KindRestic {
			return string(t.Kind) + "\x00" + t.Location
		}
		if g, n := digitGlob(t.Location); n > 0 {
			return string(t.Kind) + "\x00" + g
		}
		return string(t.Kind) + "\x00" + t.Location
	}
	var keys []string
	members := map[string][]Target{}
	for _, t := range ts {
		k := keyOf(t)
		if members[k] == nil {
			keys = append(keys, k)
		}
		members[k] = append(members[k], t)
	}
	out := make([]Target, 0, len(keys))
	for _, k := range keys {
		m := members[k]
		t := m[0]
		if len(m) > 1 && t.Kind != KindRestic {
			if !sameLocation(m) {
				t.Location, _ = digitGlob(t.Location)
			}
			if strings.ContainsAny(t.Location, "*?[") {
				t.Arg = filepath.Join(filepath.Dir(t.Arg), filepath.Base(t.Location))
				t.Examined = newestOf(m)
				t.Note = fmt.Sprintf("%d backups named on the command line (a glob the shell expanded?) are one series: the drill restores the newest match of %s, so that each new backup is the one drilled",
					len(m), filepath.Base(t.Location))
			}
		}
		out = append(out, t)
	}
	return out
}

func sameLocation(ts []Target) bool {
	for _, t := range ts[1:] {
		if t.Location != ts[0].Location {
			return false
		}
	}
	return true
}

// newestOf returns the examined path of the target modified last.
func newestOf(ts []Target) string {
	var newest string
	var mtime int64
	for _, t := range ts {
		fi, err := os.Lstat(t.Examined)
		if err != nil {
			continue
		}
		if m := fi.ModTime().UnixNano(); newest == "" || m > mtime {
			newest, mtime = t.Examined, m
		}
	}
	if newest == "" {
		return ts[0].Examined
	}
	return newest
}

// headLen is how much of a backup, decompressed, its kind is told from.
const headLen = 64 << 10

// Sniff tells a backup file's kind from its first bytes: see sniffReader.
func Sniff(head []byte) Kind { return sniffReader(bytes.NewReader(head)) }

// sniffReader tells a backup file's kind from its start: gzip and zstd
// are looked into (streamed: a zstd block can be larger than any head
// read whole), a tar archive whose first member is toc.dat is a pg_dump
// -Ft dump, any other tar an archive.
func sniffReader(r io.Reader) Kind {
	br := bufio.NewReaderSize(r, headLen)
	magic, _ := br.Peek(4) // shorter at the end of a short file
	var inner io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return KindUnknown
		}
		inner = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return KindUnknown
		}
		defer zr.Close()
		inner = zr
	}
	// A cut or damaged stream ends in an error; what came out before counts.
	head, _ := io.ReadAll(io.LimitReader(inner, headLen))
	if inner != io.Reader(br) && (bytes.HasPrefix(head, []byte{0x1f, 0x8b}) || bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd})) {
		return KindUnknown // compressed twice: no backend reads that
	}
	return sniffPlain(head)
}

// sniffPlain tells the kind of uncompressed bytes.
func sniffPlain(head []byte) Kind {
	switch {
	case postgres.IsDump(head): // the backend's own reading of its dumps
		return KindPostgres
	case len(head) >= 263 && bytes.Equal(head[257:262], []byte("ustar")):
		return KindArchive
	}
	// SQL dumps start with a comment block; MariaDB 11 puts a sandbox
	// marker line before it.
	start := head[:min(len(head), 4096)]
	if bytes.Contains(start, []byte("-- MySQL dump")) || bytes.Contains(start, []byte("-- MariaDB dump")) {
		return KindMySQL
	}
	return KindUnknown
}
