package postgres

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/drillhq/drill/plugins/internal/report"
)

// format is the kind of pg_dump output, detected from the content.
type format string

const (
	formatCustom    format = "custom"
	formatDirectory format = "directory"
	formatTar       format = "tar"
	formatPlain     format = "plain"
	formatPlainGzip format = "plain+gzip"
)

// archive reports whether pg_restore reads f (rather than psql).
func (f format) archive() bool {
	return f == formatCustom || f == formatDirectory || f == formatTar
}

// sidecarSuffix names a dump's checksum file: <dump>.sha256.
const sidecarSuffix = ".sha256"

// sniffLen is how much of a file detectFormat looks at.
const sniffLen = 512

// notDumpError is content that is not pg_dump output; its message says why.
type notDumpError struct{ why string }

func (e *notDumpError) Error() string { return e.why }

// detectFile detects the format of a dump file from its first bytes.
func detectFile(path string) (format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open dump %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read dump %s: %w", path, err)
	}
	head = head[:n]
	if isGzip(head) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("read dump %s: %w", path, err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", &notDumpError{fmt.Sprintf("gzip header: %v", err)}
		}
		inner := make([]byte, sniffLen)
		n, err := io.ReadFull(zr, inner)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return "", &notDumpError{fmt.Sprintf("gzip data: %v", err)}
		}
		ff, err := detectBytes(inner[:n])
		if err != nil {
			return "", &notDumpError{"gzip-compressed, and inside: " + err.Error()}
		}
		if ff != formatPlain {
			return "", &notDumpError{fmt.Sprintf("a gzip-compressed %s-format archive; pg_restore reads it only decompressed", ff)}
		}
		return formatPlainGzip, nil
	}
	return detectBytes(head)
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// detectBytes detects the format from the first bytes of a file (at most
// sniffLen): custom, tar (with toc.dat first) or plain SQL text.
func detectBytes(head []byte) (format, error) {
	switch {
	case len(head) == 0:
		return "", &notDumpError{"the file is empty"}
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return formatCustom, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		name, _, _ := bytes.Cut(head[:100], []byte{0})
		if string(name) != "toc.dat" {
			return "", &notDumpError{fmt.Sprintf("a tar archive whose first entry is %q, not toc.dat as pg_dump -Ft writes", report.Clip(string(name), 60))}
		}
		return formatTar, nil
	case isGzip(head):
		return "", &notDumpError{"gzip-compressed twice"}
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", &notDumpError{"binary data, neither a custom, directory or tar archive nor SQL text"}
	}
	// A multi-byte character may be cut at the end of the sample.
	text := head
	for i := 0; i < utf8.UTFMax && len(text) > 0 && !utf8.Valid(text); i++ {
		text = text[:len(text)-1]
	}
	if !utf8.Valid(text) {
		return "", &notDumpError{"neither an archive nor UTF-8 SQL text"}
	}
	return formatPlain, nil
}

// detectDir checks that a directory is pg_dump -Fd output.
func detectDir(dir string) (format, error) {
	fi, err := os.Stat(filepath.Join(dir, "toc.dat"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &notDumpError{"a directory without toc.dat"}
		}
		return "", fmt.Errorf("read dump directory %s: %w", dir, err)
	}
	if !fi.Mode().IsRegular() {
		return "", &notDumpError{"toc.dat is not a regular file"}
	}
	return formatDirectory, nil
}

// parseSidecar returns the SHA-256 a sidecar in sha256sum format gives
// for the file named base: lines of "<64 hex>  <name>" (or " *<name>" for
// binary mode). Exactly one line must name base.
func parseSidecar(data []byte, base string) ([]byte, error) {
	var sum []byte
	lines := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines++
		digest, name, ok := strings.Cut(line, " ")
		if !ok || len(name) < 2 || (name[0] != ' ' && name[0] != '*') {
			return nil, fmt.Errorf("line %d is not in sha256sum format (<sha256>  <file name>)", lines)
		}
		name = strings.TrimPrefix(name[1:], "./")
		if filepath.Base(name) != base {
			continue
		}
		if sum != nil {
			return nil, fmt.Errorf("it names %s twice", base)
		}
		b, err := hex.DecodeString(digest)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 (64 hex digits)", lines, report.Clip(digest, 70))
		}
		sum = b
	}
	if sum == nil {
		return nil, fmt.Errorf("it has no line for %s", base)
	}
	return sum, nil
}

// tocVersionRE matches pg_restore -l's header line
// ";     Dumped by pg_dump version 15.4 (Debian 15.4-1)".
var tocVersionRE = regexp.MustCompile(`(?m)^;\s+Dumped by pg_dump version:? *(.+?)\s*$`)

// plainVersionRE matches a plain dump's "-- Dumped by pg_dump version 15.4".
var plainVersionRE = regexp.MustCompile(`(?m)^-- Dumped by pg_dump version:? *(.+?)\s*$`)

// tocVersion returns the pg_dump version from pg_restore -l output.
func tocVersion(toc []byte) string {
	if m := tocVersionRE.FindSubmatch(toc); m != nil {
		return string(m[1])
	}
	return ""
}

// plainVersion returns the pg_dump version from the head of a plain dump.
func plainVersion(head []byte) string {
	if m := plainVersionRE.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

// allowedMeta are the psql meta-commands pg_dump writes into a plain dump
// of one database (\restrict and \unrestrict since 17.6, 16.10, 15.14 ...).
var allowedMeta = []string{`\restrict`, `\unrestrict`}

// metaError is a psql meta-command a plain dump must not run.
type metaError struct {
	line    int64
	command string
}

func (e *metaError) Error() string {
	return fmt.Sprintf("line %d runs the psql meta-command %s", e.line, report.Clip(e.command, 80))
}

// sqlGuard passes a plain dump through and stops at a psql meta-command
// that pg_dump does not write for one database's data: a \connect (from
// pg_dump --create) would restore into another database than the scratch
// one, and \! or \o would reach outside the server. It follows the SQL
// with psql's rules (sqlLexer), so a backslash anywhere outside literals
// and comments is seen, and text inside a literal (a function's body) is
// never taken for a statement. Lines of COPY data (up to \.) are data.
type sqlGuard struct {
	r      *bufio.Reader
	buf    []byte
	lex    *sqlLexer
	copy   bool
	line   int64
	err    error
	atBOL  bool // the next byte starts a line
	header []byte
	// skipping is set while the rest of a skipped line is read.
	skipping bool
	// owners and privileges count the lines left out, as pg_restore's
	// --no-owner and --no-privileges leave them out of archive dumps.
	owners, privileges int64
}

// ownerRE and privilegeRE match the one-line statements pg_dump writes to
// give objects their owner and privileges. The drill's server need not
// have those roles; restoring them is not what a drill proves.
var (
	ownerRE     = regexp.MustCompile(`^ALTER [A-Z ]+ .* OWNER TO .*;\s*$`)
	privilegeRE = regexp.MustCompile(`^(GRANT|REVOKE) .*;\s*$`)
)

// headerKeep is how much of the dump's start sqlGuard keeps for the
// pg_dump version comment.
const headerKeep = 8 << 10

func newSQLGuard(r io.Reader) *sqlGuard {
	return &sqlGuard{r: bufio.NewReaderSize(r, 256<<10), lex: newSQLLexer(), atBOL: true}
}

var copyFromStdinRE = regexp.MustCompile(`(?i)^COPY\s.*\sFROM\s+stdin.*;\s*$`)

func (g *sqlGuard) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		line, err := g.r.ReadSlice('\n')
		// A long line (COPY data, a big literal) comes in pieces:
		// bufio.ErrBufferFull is no error.
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			g.err = err
		}
		if len(line) == 0 {
			continue
		}
		bol := g.atBOL
		g.atBOL = line[len(line)-1] == '\n'
		if bol {
			g.line++
		}
		if len(g.header) < headerKeep {
			g.header = append(g.header, line[:min(len(line), headerKeep-len(g.header))]...)
		}
		if bol {
			g.skipping = g.startLine(line)
		}
		if g.skipping {
			continue
		}
		if err := g.follow(line, bol); err != nil {
			g.err = err
			return 0, err
		}
		g.buf = append(g.buf[:0], line...)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// startLine looks at the start of a line and says whether to leave the
// line out: an owner or a privilege statement, standing as a statement of
// its own.
func (g *sqlGuard) startLine(line []byte) bool {
	if g.copy || !g.lex.atStatementStart() {
		return false
	}
	s := strings.TrimRight(string(line[:min(len(line), 4096)]), "\r\n")
	switch {
	case ownerRE.MatchString(s):
		g.owners++
		return true
	case privilegeRE.MatchString(s):
		g.privileges++
		return true
	}
	return false
}

// follow takes a piece of a line (bol: the line's first) that goes to
// psql: it ends COPY data at \., or follows the SQL and stops at a
// meta-command other than the ones pg_dump writes.
func (g *sqlGuard) follow(piece []byte, bol bool) error {
	if g.copy {
		if bol && strings.TrimRight(string(piece), "\r\n") == `\.` {
			g.copy = false
		}
		return nil
	}
	startsCopy := bol && g.lex.atStatementStart() &&
		copyFromStdinRE.Match(bytes.TrimRight(piece[:min(len(piece), 4096)], "\r\n"))
	for off := 0; off < len(piece); {
		i := g.lex.scan(piece[off:])
		if i < 0 {
			break
		}
		off += i
		rest, _, _ := bytes.Cut(piece[off:], []byte("\n"))
		t := strings.TrimRight(string(rest), "\r")
		cmd, _, _ := strings.Cut(t, " ")
		if !slices.Contains(allowedMeta, cmd) {
			return &metaError{line: g.line, command: t}
		}
		off++
	}
	if startsCopy {
		g.copy = true
	}
	return nil
}
