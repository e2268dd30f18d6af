package manifest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/drillhq/drill/internal/safefile"
)

// maxLine bounds one line of a manifest; a file name is at most a few KiB.
const maxLine = 1 << 20

const wantFormat = `want "<64 hex digits>  <file name>" (sha256sum) or "SHA256 (<file name>) = <64 hex digits>" (sha256sum --tag)`

// tagPrefix starts a line in the BSD format that `sha256sum --tag`,
// `cksum -a sha256` and BSD's `sha256` print: "SHA256 (name) = hex".
const tagPrefix = "SHA256 ("

// tagSep separates a BSD-format line's name from its digest. The name may
// hold it too: the digest is always the last 64 bytes of the line.
const tagSep = ") = "

// bom is the UTF-8 byte order mark some Windows editors put at the start
// of a file.
const bom = "\xef\xbb\xbf"

// Parse reads a manifest in the formats `sha256sum` prints, as a reference
// to check a restore against: GNU's "<hex>  <name>" with the text ("  ")
// or binary (" *") separator, BSD's "<hex> <name>" (`sha256 -r`), and the
// tagged "SHA256 (<name>) = <hex>" (`sha256sum --tag`, `cksum -a sha256`,
// BSD `sha256`), mixed as they come. It accepts upper- and lowercase hex,
// lines starting with a backslash whose names carry "\\", "\n" and "\r"
// escapes (as coreutils writes odd names in either format), CRLF line
// ends, a UTF-8 byte order mark, blank lines and "#" comment lines (both
// ignored, as `sha256sum -c` does), and strips a leading "./" from names
// (`find . -exec sha256sum {} +`). Errors name the line:
//
//	line 3: want "<64 hex digits>  <file name>" (sha256sum) or ..., got "d41d8cd9  a.txt"
//
// A name may be absolute ("/srv/files/a", as `sha256sum /srv/files/*`
// prints it): it is kept with its leading "/", and the caller says what
// it is relative to. A name with an empty, "." or ".." element or a NUL
// byte is an error (it can never match a file of a restored tree), and so
// is a name listed twice. The result is sorted; every Size is -1.
func Parse(r io.Reader) (*Manifest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	m := &Manifest{}
	seen := make(map[string]int)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte(bom))
		}
		e, ok, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if !ok {
			continue
		}
		if first, dup := seen[e.Path]; dup {
			return nil, fmt.Errorf("line %d: file name %s is listed twice (first on line %d)", lineNo, strconv.Quote(e.Path), first)
		}
		seen[e.Path] = lineNo
		m.Entries = append(m.Entries, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes; is this a sha256sum manifest?", lineNo+1, maxLine)
		}
		return nil, err
	}
	m.Sort()
	return m, nil
}

// ParseFile reads the manifest in the file at path with Parse. Errors
// name the file. The file must be a regular file, not a symlink to one
// (internal/safefile): a reference manifest is read as a backup file is.
func ParseFile(path string) (*Manifest, error) {
	f, err := safefile.Open(path, "reference manifest")
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return m, nil
}

// parseLine parses one line without its line end. ok is false for a blank
// or comment line.
func parseLine(line []byte) (e Entry, ok bool, err error) {
	s := bytes.TrimLeft(line, " \t")
	if len(s) == 0 || s[0] == '#' {
		return Entry{}, false, nil
	}
	escaped := s[0] == '\\'
	if escaped {
		s = s[1:]
	}
	digest, rawName, err := splitLine(s)
	if err != nil {
		return Entry{}, false, fmt.Errorf("%w, got %s", err, quoteShort(line))
	}
	if _, err := hex.Decode(e.SHA256[:], digest); err != nil {
		return Entry{}, false, fmt.Errorf("%s, got %s", wantFormat, quoteShort(line))
	}
	name := string(rawName)
	if escaped {
		if name, err = unescape(name); err != nil {
			return Entry{}, false, err
		}
	}
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	switch {
	case name == "":
		return Entry{}, false, fmt.Errorf("%s, got %s", wantFormat, quoteShort(line))
	case strings.IndexByte(name, 0) >= 0:
		return Entry{}, false, fmt.Errorf("file name %s holds a NUL byte", strconv.Quote(name))
	case !validPath(strings.TrimPrefix(name, "/")):
		return Entry{}, false, fmt.Errorf("file name %s has an empty, \".\" or \"..\" element; want a plain name, such as sha256sum prints run in the backed-up folder", strconv.Quote(name))
	}
	e.Path = name
	e.Size = -1
	return e, true, nil
}

// splitLine splits a line (without its escape marker) into its digest and
// its name, still escaped.
func splitLine(s []byte) (digest, name []byte, err error) {
	if rest, ok := bytes.CutPrefix(s, []byte(tagPrefix)); ok {
		n := len(rest) - len(tagSep) - 64
		if n < 0 || string(rest[n:n+len(tagSep)]) != tagSep {
			return nil, nil, errors.New(wantFormat)
		}
		return rest[n+len(tagSep):], rest[:n], nil
	}
	if alg, _, ok := bytes.Cut(s, []byte(" (")); ok && isAlgorithm(alg) && bytes.Contains(s, []byte(tagSep)) {
		return nil, nil, fmt.Errorf("a %s digest; want SHA256 lines (make the manifest with sha256sum)", alg)
	}
	// 64 hex digits, a space, and the name: after a second space (text
	// mode) or a star (binary mode) in GNU's format; at once in BSD's
	// `sha256 -r` format, as `sha256sum -c` reads it too.
	if len(s) < 64+2 || s[64] != ' ' {
		return nil, nil, errors.New(wantFormat)
	}
	if s[65] == ' ' || s[65] == '*' {
		return s[:64], s[66:], nil
	}
	return s[:64], s[65:], nil
}

// isAlgorithm reports whether b looks like the algorithm of a BSD-format
// line ("MD5", "SHA1", "SHA512", "BLAKE2b-256").
func isAlgorithm(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// unescape undoes the escapes of a name on a line that starts with a
// backslash: "\\", "\n" and "\r", the only ones coreutils writes and reads.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("file name %s ends in a lone backslash; want \\\\, \\n or \\r escapes", strconv.Quote(s))
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("file name %s has the unknown escape \\%c; want \\\\, \\n or \\r", strconv.Quote(s), s[i])
		}
	}
	return b.String(), nil
}

// quoteShort quotes b for an error message, cut to a readable length.
func quoteShort(b []byte) string {
	const max = 100
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
