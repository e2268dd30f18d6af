// Package dbcheck holds what the database backends share: scratch
// database names, the comparison of a check query's value with its
// `expect`, and the table manifest.
package dbcheck

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/drillhq/drill/internal/textsafe"
)

// Prefix starts the name of every scratch database drill creates.
const Prefix = "drill_"

// ScratchName returns a fresh scratch database name for a drill:
// "drill_<drill>_<12 hex digits>", with the drill's name reduced to
// lower-case letters, digits and underscores and cut so that the whole
// name fits in maxLen bytes (63 for PostgreSQL, 64 for MySQL).
func ScratchName(drill string, maxLen int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(drill) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := "_" + hex.EncodeToString(rnd[:])
	name := b.String()
	if room := maxLen - len(Prefix) - len(suffix); len(name) > room {
		name = name[:room]
	}
	return Prefix + name + suffix
}

// IsScratchName reports whether name has the shape ScratchName gives.
func IsScratchName(name string) bool {
	if !strings.HasPrefix(name, Prefix) || len(name) < len(Prefix)+13 {
		return false
	}
	suffix := name[len(name)-13:]
	if suffix[0] != '_' {
		return false
	}
	_, err := hex.DecodeString(suffix[1:])
	return err == nil
}

// Expect is a parsed `expect` of an sql check: an operator and a value.
type Expect struct {
	Op    string // =, !=, <, <=, >, >=
	Value string // unquoted
	// Numeric is set when Value is a number: the comparison is numeric.
	Numeric bool
	Num     float64
}

// ParseExpect parses ">= 1", "= 0", "!= ”", "= 'open'", "< 2.5". A
// quoted value compares as text; an unquoted one must be a number.
func ParseExpect(s string) (Expect, error) {
	s = strings.TrimSpace(s)
	var e Expect
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(s, op) {
			e.Op = op
			s = strings.TrimSpace(s[len(op):])
			break
		}
	}
	if e.Op == "" {
		return Expect{}, fmt.Errorf("expect %q must start with =, !=, <, <=, > or >=", s)
	}
	switch {
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		e.Value = strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	case s == "":
		return Expect{}, fmt.Errorf("expect has no value after %s (use '' for the empty text)", e.Op)
	default:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Expect{}, fmt.Errorf("expect value %q is neither a number nor quoted text ('...')", s)
		}
		e.Value, e.Numeric, e.Num = s, true, n
	}
	return e, nil
}

// Match compares a query's value (its text form; null when valid is
// false) with e, and says what it found.
func (e Expect) Match(got string, valid bool) (bool, string) {
	if !valid {
		return false, fmt.Sprintf("the query returned NULL, expected %s", e)
	}
	var c int
	if e.Numeric {
		n, err := strconv.ParseFloat(strings.TrimSpace(got), 64)
		if err != nil {
			return false, fmt.Sprintf("the query returned %q, not a number, expected %s", got, e)
		}
		switch {
		case n < e.Num:
			c = -1
		case n > e.Num:
			c = 1
		}
	} else {
		c = strings.Compare(got, e.Value)
	}
	ok := map[string]bool{"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[e.Op]
	if ok {
		return true, fmt.Sprintf("returned %s, expected %s", quoteIfText(got, e.Numeric), e)
	}
	return false, fmt.Sprintf("the query returned %s, expected %s", quoteIfText(got, e.Numeric), e)
}

func (e Expect) String() string {
	if e.Numeric {
		return e.Op + " " + e.Value
	}
	return e.Op + " '" + strings.ReplaceAll(e.Value, "'", "''") + "'"
}

func quoteIfText(s string, numeric bool) string {
	if numeric {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// queryNameRunes is how many runes of its query an unnamed sql check's
// name keeps: enough to recognise the query in a report's column.
const queryNameRunes = 60

// QueryName is the name of an sql check written without one: its query
// on one line (white space collapsed), cut to 60 runes with "…", control
// characters escaped.
func QueryName(query string) string {
	r := []rune(oneLine(query))
	name := string(r)
	if len(r) > queryNameRunes {
		name = strings.TrimRight(string(r[:queryNameRunes-1]), " ") + "…"
	}
	return textsafe.Escape(name)
}

// NamedByWholeQuery reports whether name is the default name of an sql
// check with this query that holds all of it (QueryName, uncut, possibly
// numbered " #2" as a second check of the same query is): a report need
// not show the query again next to the name. A cut name does not hold
// the whole query, so the query is still worth showing.
func NamedByWholeQuery(name, query string) bool {
	whole := textsafe.Escape(oneLine(query))
	if name == whole {
		return true
	}
	n, ok := strings.CutPrefix(name, whole+" #")
	if !ok {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// oneLine is a query on one line, its white space collapsed, as a
// multi-line YAML query is written.
func oneLine(query string) string { return strings.Join(strings.Fields(query), " ") }
