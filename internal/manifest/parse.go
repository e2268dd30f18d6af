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

const wantFormat = `want "<64 hex digits>  <file name>"`

// Parse reads a manifest in the format `sha256sum` prints, as a reference
// to check a restore against. It accepts the text ("  ") and binary (" *")
// separators, upper- and lowercase hex, lines starting with a backslash
// whose names carry "\\", "\n" and "\r" escapes, CRLF line ends, blank
// lines and "#" comment lines (both ignored, as `sha256sum -c` does), and
// strips a leading "./" from names. Errors name the line:
//
//	line 3: want "<64 hex digits>  <file name>", got "d41d8cd9  a.txt"
//
// A name that is absolute, has an empty, "." or ".." element or holds a
// NUL byte is an error (it can never match a file of a restored tree), and
// so is a name listed twice. The result is sorted; every Size is -1.
func Parse(r io.Reader) (*Manifest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	m := &Manifest{}
	seen := make(map[string]int)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		e, ok, err := parseLine(sc.Bytes())
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
	// 64 hex digits, a space, ' ' or '*', and at least one byte of name.
	if len(s) < 64+2+1 || s[64] != ' ' || (s[65] != ' ' && s[65] != '*') {
		return Entry{}, false, fmt.Errorf("%s, got %s", wantFormat, quoteShort(line))
	}
	if _, err := hex.Decode(e.SHA256[:], s[:64]); err != nil {
		return Entry{}, false, fmt.Errorf("%s, got %s", wantFormat, quoteShort(line))
	}
	name := string(s[66:])
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
	case name[0] == '/':
		return Entry{}, false, fmt.Errorf("file name %s is absolute; want names relative to the tree (make the reference with \"cd DIR && sha256sum ...\")", strconv.Quote(name))
	case !validPath(name):
		return Entry{}, false, fmt.Errorf("file name %s has an empty, \".\" or \"..\" element; want a plain relative name", strconv.Quote(name))
	}
	e.Path = name
	e.Size = -1
	return e, true, nil
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
