package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
)

// Entry is one regular file of a manifest.
type Entry struct {
	// Path is the file's name relative to the tree, slash-separated, as raw
	// bytes: it may be invalid UTF-8 or hold a newline or backslash. In a
	// reference read by Parse it may also be absolute (see Parse).
	Path string
	// Size is the number of bytes hashed, or -1 when unknown (a manifest
	// read by Parse has no sizes).
	Size int64
	// SHA256 is the digest of the file's content.
	SHA256 [32]byte
}

// Manifest is a list of files with their digests, sorted by Path in plain
// byte order. HashTree, Parse and Pool.Wait return sorted manifests; call
// Sort after changing Entries.
type Manifest struct {
	Entries []Entry
}

// Sort sorts the entries by Path in plain byte order (the order of
// `LC_ALL=C sort`).
func (m *Manifest) Sort() {
	slices.SortFunc(m.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
}

// WriteTo writes the manifest in exactly the format `sha256sum` (coreutils
// 9.1) prints, entries in their order in Entries: "<hex>  <path>\n", and for
// a path holding a backslash, newline or carriage return a line starting
// with a backslash and the path escaped as "\\", "\n" and "\r". It returns
// the number of bytes written.
func (m *Manifest) WriteTo(w io.Writer) (int64, error) {
	var total int64
	buf := make([]byte, 0, 64<<10)
	for i := range m.Entries {
		buf = appendLine(buf, &m.Entries[i])
		if len(buf) >= 60<<10 {
			n, err := w.Write(buf)
			total += int64(n)
			if err != nil {
				return total, err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		n, err := w.Write(buf)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Digest returns the SHA-256 of what WriteTo writes: the digest that
// identifies this manifest in evidence records.
func (m *Manifest) Digest() [32]byte {
	h := sha256.New()
	_, _ = m.WriteTo(h) // a hash.Hash never returns an error
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// TotalBytes returns the sum of the known sizes (entries with Size -1 count
// as zero).
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for _, e := range m.Entries {
		if e.Size > 0 {
			n += e.Size
		}
	}
	return n
}

// needsEscape reports whether coreutils 9.1 escapes the name.
func needsEscape(name string) bool {
	return strings.ContainsAny(name, "\\\n\r")
}

// appendLine appends e's line in sha256sum format to buf.
func appendLine(buf []byte, e *Entry) []byte {
	esc := needsEscape(e.Path)
	if esc {
		buf = append(buf, '\\')
	}
	buf = hex.AppendEncode(buf, e.SHA256[:])
	buf = append(buf, ' ', ' ')
	if !esc {
		buf = append(buf, e.Path...)
		return append(buf, '\n')
	}
	for i := 0; i < len(e.Path); i++ {
		switch c := e.Path[i]; c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '\n')
}

// validPath reports whether name can be a path in a manifest: relative,
// slash-separated, without empty, "." or ".." elements, without NUL bytes.
// Unlike fs.ValidPath it accepts invalid UTF-8, which file names may be.
func validPath(name string) bool {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		i := strings.IndexByte(name, '/')
		if i < 0 {
			i = len(name)
		}
		elem := name[:i]
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i == len(name) {
			return true
		}
		name = name[i+1:]
	}
}
