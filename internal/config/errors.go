package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a config file and where it is. Its text reads
// "drill.yaml:12:5: drills.home.checks.min_files: want an integer, got
// \"lots\"", leaving out the parts that are empty or zero.
type Error struct {
	// File is the config file's path as given to Load or Parse.
	File string
	// Line and Col are 1-based; 0 when not known.
	Line, Col int
	// Path is the dotted key path of the offending value, such as
	// drills.home.checks.min_files or drills.db.checks.sql[0].expect;
	// empty for the file as a whole.
	Path string
	// Msg says what is wrong and, where it helps, what is wanted instead.
	Msg string
	// Err is the underlying error, if any (such as the error that reading
	// the file returned); Unwrap returns it.
	Err error
}

// Error returns "file:line:col: path: msg" without the empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	loc := e.File
	if e.Line > 0 {
		if loc != "" {
			loc += ":"
		}
		loc += strconv.Itoa(e.Line)
		if e.Col > 0 {
			loc += ":" + strconv.Itoa(e.Col)
		}
	}
	for _, part := range []string{loc, e.Path, e.Msg} {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(part)
	}
	return b.String()
}

// Unwrap returns the underlying error, or nil.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in a config file, sorted by line and then
// column. Load and Parse return a non-empty Errors as their error.
type Errors []*Error

// Error returns each problem on its own line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sorted returns es sorted by line and column, without repeats: a
// mistake in a mapping that is merged (<<) into several others is
// reported once, where it is written.
func (es Errors) sorted() Errors {
	type at struct {
		line, col int
		msg       string
	}
	seen := make(map[at]bool)
	var out Errors
	for _, e := range es {
		k := at{e.Line, e.Col, e.Msg}
		if e.Line > 0 && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return out
}

// errorf builds an Error; Config.Errorf and the parser share it.
func errorf(file string, pos Pos, path, format string, args ...any) *Error {
	return &Error{File: file, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, args...)}
}
