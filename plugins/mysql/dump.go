package mysql

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/internal/textsafe"
)

const (
	// lineBuf is the filter's read buffer: a line longer than this (an
	// extended INSERT) is passed through without being looked at, which
	// is safe: the lines the filter removes are short.
	lineBuf = 64 << 10
	// headBytes is how much of the (decompressed) dump is looked at to
	// decide whether it is a dump at all.
	headBytes = 16 << 10
	// maxSidecar is the largest checksum sidecar read.
	maxSidecar = 64 << 10
)

// dumpProblem is damage in the dump, or a dump drill refuses to restore:
// a ProblemFail.
type dumpProblem struct{ msg string }

func (e *dumpProblem) Error() string { return e.msg }

// limitError is a restore stopped by RestoreRequest.MaxBytes: a
// ProblemError.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// severalDatabases is a dump of more than one database (--all-databases,
// --databases a b): the backup may be fine, but drill restores one
// database per drill, so it is a ProblemError, not a fail.
type severalDatabases struct{ msg string }

func (e *severalDatabases) Error() string { return e.msg }

// oneDatabaseEach says what to do with a dump of several databases.
const oneDatabaseEach = "drill restores one database per drill into its scratch database; dump each database to its own file (mariadb-dump DB > DB.sql, or mysqldump) and drill each dump"

// verifySidecar checks the open dump d against `<dump>.sha256` when there
// is one (sha256sum's format: the digest, then optionally the file's
// name), reading d from its start and leaving it there again. It returns
// a dumpProblem naming both files on a mismatch or a malformed sidecar,
// or a sidecar that is not a regular file, and nil when there is no
// sidecar.
func verifySidecar(dump string, d *os.File) error {
	side := dump + ".sha256"
	data, err := safefile.ReadFile(side, "checksum file", maxSidecar)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, safefile.ErrNotRegular) {
		return &dumpProblem{err.Error()}
	}
	if err != nil {
		return fmt.Errorf("read checksum file %s: %w", side, err)
	}
	want, err := parseSidecar(data, filepath.Base(dump))
	if err != nil {
		return &dumpProblem{fmt.Sprintf("checksum file %s of dump %s: %v", side, dump, err)}
	}
	h := sha256.New()
	if _, err := io.Copy(h, d); err != nil {
		return &dumpProblem{fmt.Sprintf("read dump %s to check it against %s: %v", dump, side, err)}
	}
	if _, err := d.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read dump %s again after its checksum: %w", dump, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &dumpProblem{fmt.Sprintf("dump %s has sha256 %s, but its checksum file %s says %s: the dump is damaged or was replaced",
			dump, got, side, want)}
	}
	return nil
}

// parseSidecar reads the digest from a sha256sum line ("<hex>  name",
// "<hex> *name" or just "<hex>"). A name, when given, must be base.
func parseSidecar(data []byte, base string) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	line = strings.TrimSpace(line)
	sum, name, _ := strings.Cut(line, " ")
	sum = strings.ToLower(sum)
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", fmt.Errorf("it does not start with a SHA-256 digest (64 hex digits), as sha256sum writes")
	}
	name = strings.TrimPrefix(strings.TrimSpace(name), "*")
	if name != "" && filepath.Base(name) != base {
		return "", fmt.Errorf("it is the checksum of %q, not of %q", name, base)
	}
	return sum, nil
}

// dump is an open dump file, decompressed when it is gzip'd or zstd'd.
type dump struct {
	path string
	f    *os.File
	size int64
	read atomic.Int64 // bytes read from the file, for progress
	r    *bufio.Reader
	tool string // the dump header, such as "MariaDB dump 10.19  Distrib 10.11.6-MariaDB ..."
	zstd *zstd.Decoder
}

// openDump opens a dump as a regular file (never through a symlink),
// checks it against its checksum sidecar, and checks that it looks like a
// dump: a mysqldump or mariadb-dump header, or SQL statements. Damage (a
// broken gzip header, a file that is not a dump, a wrong checksum) and a
// dump that is not a regular file are dumpProblems.
func openDump(path string) (*dump, error) {
	f, err := safefile.Open(path, "dump")
	if errors.Is(err, safefile.ErrNotRegular) {
		return nil, &dumpProblem{err.Error()}
	}
	if err != nil {
		return nil, fmt.Errorf("open dump %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat dump %s: %w", path, err)
	}
	if err := verifySidecar(path, f); err != nil {
		_ = f.Close()
		return nil, err
	}
	d := &dump{path: path, f: f, size: fi.Size()}
	raw := bufio.NewReaderSize(&counter{r: f, n: &d.read}, lineBuf)
	var r io.Reader = raw
	magic, _ := raw.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(raw)
		if err != nil {
			_ = f.Close()
			return nil, &dumpProblem{fmt.Sprintf("%s is not a valid gzip file: %v", path, err)}
		}
		r = zr
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}): // mariadb-dump db | zstd
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1))
		if err != nil {
			_ = f.Close()
			return nil, &dumpProblem{fmt.Sprintf("%s is not a valid zstd file: %v", path, err)}
		}
		d.zstd = zr
		r = zr
	}
	d.r = bufio.NewReaderSize(r, lineBuf)
	head, err := d.r.Peek(headBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		_ = d.Close()
		return nil, &dumpProblem{fmt.Sprintf("read dump %s: %v", path, err)}
	}
	tool, ok := looksLikeDump(head)
	if !ok {
		_ = d.Close()
		return nil, &dumpProblem{fmt.Sprintf("%s is not a MySQL/MariaDB dump", path)}
	}
	d.tool = tool
	if allDatabases(head) {
		_ = d.Close()
		return nil, &severalDatabases{fmt.Sprintf("dump %s is a dump of all databases (--all-databases): %s", path, oneDatabaseEach)}
	}
	return d, nil
}

func (d *dump) Close() error {
	if d.zstd != nil {
		d.zstd.Close()
	}
	return d.f.Close()
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n *atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// sqlStart are how the first statement of a dump without a header may
// begin.
var sqlStart = []string{"/*!", "/*M!", "SET ", "CREATE ", "DROP ", "INSERT ", "REPLACE ", "LOCK ", "UNLOCK ",
	"USE ", "ALTER ", "START ", "BEGIN", "COMMIT", "DELIMITER "}

// looksLikeDump reports whether the start of a (decompressed) file is a
// mysqldump / mariadb-dump, and returns its header ("MariaDB dump 10.19
// Distrib ...") when it has one. Without a header (--skip-comments), its
// first statement must look like SQL.
func looksLikeDump(head []byte) (tool string, ok bool) {
	if bytes.IndexByte(head, 0) >= 0 {
		return "", false
	}
	firstSQL := ""
	for i, line := range strings.Split(string(head), "\n") {
		line = strings.TrimSpace(line)
		if i < 5 && (strings.HasPrefix(line, "-- MySQL dump") || strings.HasPrefix(line, "-- MariaDB dump")) {
			return strings.TrimPrefix(line, "-- "), true
		}
		if firstSQL == "" && line != "" && !strings.HasPrefix(line, "--") && !strings.HasPrefix(line, "#") {
			firstSQL = line
		}
	}
	up := strings.ToUpper(firstSQL)
	for _, p := range sqlStart {
		if strings.HasPrefix(up, p) {
			return "", true
		}
	}
	return "", false
}

// allDatabases reports whether a dump's header says it was made with
// --all-databases: mysqldump and mariadb-dump name the database they were
// asked for on their "-- Host: ...    Database: ..." line, and none for
// --all-databases. Refusing here saves restoring the whole mysql schema
// before the second database shows it.
func allDatabases(head []byte) bool {
	for i, line := range strings.Split(string(head), "\n") {
		if i >= 10 {
			break
		}
		line = strings.TrimRight(line, " \t\r")
		if strings.HasPrefix(line, "-- Host: ") {
			return strings.HasSuffix(line, "Database:")
		}
	}
	return false
}

// The lines the filter removes. mysqldump and mariadb-dump --databases
// write each on one line at the start of the line, possibly inside a
// version comment (/*!40000 ... */):
//
//	/*!40000 DROP DATABASE IF EXISTS `shop`*/;
//	CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
//	USE `shop`;
//
// A line that starts like one of them but does not have this shape is
// refused rather than passed on.
const (
	versionComment = "(?:/\\*M?!\\d*\\s*)?"
	identifier     = "(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
)

var (
	createStart = regexp.MustCompile(`(?i)^` + versionComment + `CREATE\s+(?:DATABASE|SCHEMA)\b`)
	createLine  = regexp.MustCompile(`(?i)^` + versionComment + `CREATE\s+(?:DATABASE|SCHEMA)\s+(?:/\*!\d+\s+IF\s+NOT\s+EXISTS\s*\*/\s*|IF\s+NOT\s+EXISTS\s+)?` + identifier + `[^;]*;$`)
	dropStart   = regexp.MustCompile(`(?i)^` + versionComment + `DROP\s+(?:DATABASE|SCHEMA)\b`)
	dropLine    = regexp.MustCompile(`(?i)^` + versionComment + `DROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?` + identifier + `\s*(?:\*/)?\s*;$`)
	useStart    = regexp.MustCompile(`(?i)^` + versionComment + `USE\b`)
	useLine     = regexp.MustCompile(`(?i)^` + versionComment + `USE\s+` + identifier + `\s*(?:\*/)?\s*;$`)
)

// definer is a DEFINER clause where mysqldump and mariadb-dump write one,
// at the start of a line:
//
//	/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */          (a view)
//	/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER ...
//	/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT ...
//	CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()                    (a routine)
//
// The restore user may not name another account as definer (that needs
// SUPER or SET USER), so the filter makes it DEFINER=CURRENT_USER: the
// object then runs with the restore user's rights, on the scratch
// database only. A DEFINER anywhere else is sent as it is, and the server
// refuses it.
var definer = regexp.MustCompile(`(?i)^((?:/\*!\d+\s*CREATE\s*\*/\s*)?/\*!\d+\s*|CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)DEFINER\s*=\s*` +
	account + `@` + account)

// account is a user or host name in a DEFINER clause: quoted with
// backticks or single quotes, or bare.
const account = "(?:`(?:[^`]|``)*`|'(?:[^'\\\\]|''|\\\\.)*'|[A-Za-z0-9_$.%-]+)"

// filter streams a dump's SQL to the client without the statements that
// would leave the scratch database: CREATE DATABASE, DROP DATABASE and
// USE at the top level (at the start of a line, as the dump tools write
// them). A dump of several databases is refused.
//
// Out of scope: statements that name another database explicitly
// (INSERT INTO other.t, a view or trigger over other.t). mysqldump and
// mariadb-dump do not write them for a single database, and the client
// runs them against the server as the configured user; give drill a user
// whose grants stop at drill_% databases to rule them out.
type filter struct {
	// maxBytes stops the stream once more SQL would be sent; 0: no limit.
	maxBytes int64
	// tick is called every so often as the stream goes.
	tick func()

	names   []string        // databases the dump names, in order
	removed map[string]bool // the kinds of statement removed
	// definers counts the DEFINER clauses set to CURRENT_USER.
	definers int
	lines    int64
	out      int64
	// completed: the last non-blank line is the dump tool's "-- Dump
	// completed" trailer.
	completed bool
}

// writeError is a failed write to the client: it went away, and its exit
// status says why.
type writeError struct{ err error }

func (e *writeError) Error() string { return "send the dump to the client: " + e.err.Error() }

// run copies r to w, filtered. Damage and refusals are dumpProblems, the
// byte limit a limitError, a failed write a writeError.
func (f *filter) run(path string, r *bufio.Reader, w io.Writer) error {
	f.removed = map[string]bool{}
	var nextTick int64 = 1 << 20
	write := func(b []byte) error {
		f.out += int64(len(b))
		if f.maxBytes > 0 && f.out > f.maxBytes {
			return &limitError{fmt.Sprintf("dump %s holds more than the drill's limit of %d bytes of SQL", path, f.maxBytes)}
		}
		if _, err := w.Write(b); err != nil {
			return &writeError{err}
		}
		if f.tick != nil && f.out >= nextTick {
			nextTick = f.out + 1<<20
			f.tick()
		}
		return nil
	}
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line (extended INSERT): pass it on as it comes.
			f.lines++
			f.completed = false
			for errors.Is(err, bufio.ErrBufferFull) {
				if werr := write(line); werr != nil {
					return werr
				}
				line, err = r.ReadSlice('\n')
			}
			if werr := write(line); werr != nil {
				return werr
			}
		} else if len(line) > 0 {
			f.lines++
			out, ferr := f.line(line)
			var sd *severalDatabases
			if errors.As(ferr, &sd) {
				return &severalDatabases{fmt.Sprintf("%s line %d: %v", path, f.lines, ferr)}
			}
			if ferr != nil {
				return &dumpProblem{fmt.Sprintf("%s line %d: %v", path, f.lines, ferr)}
			}
			if out != nil {
				if werr := write(out); werr != nil {
					return werr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &dumpProblem{fmt.Sprintf("read dump %s after line %d: %v", path, f.lines, err)}
		}
	}
}

// line looks at one whole line and returns what to pass on: the line, a
// rewritten line, or nil.
func (f *filter) line(raw []byte) ([]byte, error) {
	line := strings.TrimRight(string(raw), "\r\n")
	trimmed := strings.TrimSpace(line)
	if trimmed != "" {
		f.completed = strings.HasPrefix(trimmed, "-- Dump completed")
	}
	if line == "" || !strings.ContainsAny(line[:1], "CcDdUu/") {
		return raw, nil
	}
	line = strings.TrimRight(line, " \t")
	for _, st := range []struct {
		kind        string
		start, full *regexp.Regexp
	}{
		{"DROP DATABASE", dropStart, dropLine},
		{"CREATE DATABASE", createStart, createLine},
		{"USE", useStart, useLine},
	} {
		if !st.start.MatchString(line) {
			continue
		}
		m := st.full.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("a %s statement drill cannot rewrite safely (it must be one line, as mysqldump writes it): %s", st.kind, textsafe.Clip(line, 200))
		}
		if err := f.database(unquote(m[1])); err != nil {
			return nil, err
		}
		f.removed[st.kind] = true
		return nil, nil
	}
	if loc := definer.FindSubmatchIndex(raw); loc != nil {
		f.definers++
		out := make([]byte, 0, len(raw))
		out = append(out, raw[:loc[3]]...)
		out = append(out, "DEFINER=CURRENT_USER"...)
		return append(out, raw[loc[1]:]...), nil
	}
	return raw, nil
}

// database records a database the dump names and refuses a second one
// with a severalDatabases.
func (f *filter) database(name string) error {
	for _, n := range f.names {
		if n == name {
			return nil
		}
	}
	f.names = append(f.names, name)
	if len(f.names) > 1 {
		return &severalDatabases{fmt.Sprintf("dump holds several databases (%s, %s): %s",
			quoteIdent(f.names[0]), quoteIdent(name), oneDatabaseEach)}
	}
	return nil
}

// rewritten says what the filter removed and rewrote, for the evidence,
// or "".
func (f *filter) rewritten() string {
	var kinds, said []string
	for _, k := range []string{"DROP DATABASE", "CREATE DATABASE", "USE"} {
		if f.removed[k] {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 0 {
		said = append(said, fmt.Sprintf("removed %s for %s", strings.Join(kinds, "/"), quoteIdent(f.names[0])))
	}
	if f.definers > 0 {
		said = append(said, fmt.Sprintf("%d DEFINER clauses set to CURRENT_USER (the restore user)", f.definers))
	}
	return strings.Join(said, "; ")
}

// unquote turns `a“b` into a`b; a bare name is returned as it is.
func unquote(id string) string {
	if len(id) >= 2 && id[0] == '`' && id[len(id)-1] == '`' {
		return strings.ReplaceAll(id[1:len(id)-1], "``", "`")
	}
	return id
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }
