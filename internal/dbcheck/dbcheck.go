// Package dbcheck holds the SQL checks the database backends share: the
// comparison of a check query's value with its `expect`, a check's name
// and detail. Scratch database names are in internal/scratchdb.
package dbcheck

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drillhq/drill/internal/textsafe"
)

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

// Query is an SQL check's query for a check's detail or a message: on one
// line (white space collapsed, as a multi-line YAML query is written) and
// clipped to 300 bytes.
func Query(q string) string {
	return textsafe.Clip(oneLine(q), 300)
}

// Detail is the detail of an sql check named name: what its query
// returned (detail), after the query unless name is already the whole
// query (an unnamed check is named after it), so that a report does not
// show the query twice.
func Detail(name, query, detail string) string {
	if NamedByWholeQuery(name, query) {
		return detail
	}
	return Query(query) + ": " + detail
}
