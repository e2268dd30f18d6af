// Package textsafe makes text from backups, bundles and tools safe to show
// on a terminal and to keep in evidence: control characters become visible
// escapes, so a file name, a table name or a tool's error cannot move the
// cursor, clear the screen, fake a line of output or reorder what a reader
// sees.
//
// Escape is the one place this is decided. The runner escapes every string
// it records (reasons, check details, details values, table names), the
// CLI escapes what it prints from a record or a bundle, and the result is
// stable: escaping escaped text changes nothing more.
package textsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every character that could change how text is
// displayed replaced by a visible escape:
//
//   - C0 controls (U+0000..U+001F) and DEL (U+007F): \t, \n, \r by name,
//     the rest as \xNN;
//   - C1 controls (U+0080..U+009F) as \u0080..\u009f;
//   - the Unicode bidirectional formatting characters (U+061C, U+200E,
//     U+200F, U+202A..U+202E, U+2066..U+2069), which reorder a line as it
//     is displayed, as \uNNNN;
//   - bytes that are not UTF-8 as \xNN.
//
// Printable text, backslashes included, is kept as it is. Escape allocates
// only when s needs escaping.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Safe reports whether s needs no escaping.
func Safe(s string) bool { return firstUnsafe(s) < 0 }

// EscapeAll escapes every string of ss in place and returns ss.
func EscapeAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = Escape(s)
	}
	return ss
}

// firstUnsafe returns the index of the first byte of s that Escape would
// change, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports whether a rune at or above U+0080 is a C1 control or
// a bidirectional formatting character.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
