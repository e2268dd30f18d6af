package drills

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drillhq/drill/plugins"
)

// namesShown is how many names a grouped reason shows before "and N more".
const namesShown = 3

// problemGroup is a backend's problems of one kind and one message: the
// same damage found in many files (every file of a deleted restic pack)
// reads as one reason, not one per file.
type problemGroup struct {
	kind plugins.ProblemKind
	// message is the problems' message; in one that names its file,
	// nameMark stands for the name. first is the first problem's message
	// as reported.
	message, first string
	// paths are the files or objects concerned, sorted; empty for a
	// problem about none.
	paths []string
}

// nameMark stands for a problem's path in the message of its group.
const nameMark = "\x00"

// groupProblems groups a backend's problems by kind and message, in the
// order each group was first reported. A message that names the file it
// is about (restic: lchown /scratch/target/a/b: no such file) is grouped
// with those that say the same of other files; a problem about no path is
// a group of its own.
func groupProblems(ps []plugins.Problem) []problemGroup {
	var groups []problemGroup
	index := map[[2]string]int{}
	for _, p := range ps {
		if p.Path == "" {
			groups = append(groups, problemGroup{kind: p.Kind, message: p.Message, first: p.Message})
			continue
		}
		msg := p.Message
		if namesPath(msg, p.Path) {
			msg = strings.ReplaceAll(msg, p.Path, nameMark)
		}
		key := [2]string{string(p.Kind), msg}
		if i, ok := index[key]; ok {
			groups[i].paths = append(groups[i].paths, p.Path)
			continue
		}
		index[key] = len(groups)
		groups = append(groups, problemGroup{kind: p.Kind, message: msg, first: p.Message, paths: []string{p.Path}})
	}
	for _, g := range groups {
		slices.Sort(g.paths)
	}
	return groups
}

// namesPath reports whether msg names path as a whole: not inside a
// longer name (the "a" in "pack gone").
func namesPath(msg, path string) bool {
	edge := func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.'
	}
	for i := 0; ; {
		j := strings.Index(msg[i:], path)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(path)
		before, _ := utf8.DecodeLastRuneInString(msg[:start])
		after, _ := utf8.DecodeRuneInString(msg[end:])
		if (start == 0 || edge(before)) && (end == len(msg) || edge(after)) {
			return true
		}
		i = start + 1
	}
}

// reason is the group as one reason: the message about one file as
// reported, after the file's name unless it names it (`"a/b": message`);
// about several, their count, the message and the first names
// (`3 files: message: "a/b", "c/d", "e/f"`, and N more).
func (g problemGroup) reason() string {
	switch {
	case len(g.paths) == 0 || len(g.paths) == 1 && g.message != g.first:
		return g.first
	case len(g.paths) == 1:
		return fmt.Sprintf("%q: %s", g.paths[0], g.first)
	}
	return g.headline() + ": " + listFirst(quoteAll(g.paths), namesShown)
}

// headline is the reason without the names, for a group of several.
func (g problemGroup) headline() string {
	if len(g.paths) < 2 {
		return g.reason()
	}
	return count(len(g.paths)) + " files: " + strings.ReplaceAll(g.message, nameMark, "<name>")
}

// listFirst lists the first n names and counts the rest.
func listFirst(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + " and " + count(len(names)-n) + " more"
}

// count prints n with thousands separators: 1,007.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// problemPaths lists, quoted, every path the groups name when some group
// shows only the first of its names (for the record's details, so that
// the whole list the backend reported is kept); "" otherwise.
func problemPaths(groups []problemGroup) string {
	var all []string
	cut := false
	for _, g := range groups {
		cut = cut || len(g.paths) > namesShown
		all = append(all, quoteAll(g.paths)...)
	}
	if !cut {
		return ""
	}
	return strings.Join(all, ", ")
}

// summary says in a few words what the groups hold, for a check's detail:
// how many problems the backend reported, and the first.
func summary(backend string, groups []problemGroup) string {
	n := 0
	for _, g := range groups {
		n += max(1, len(g.paths))
	}
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	s := fmt.Sprintf("%s %s reported by backend %s (%s", count(n), noun, backend, groups[0].headline())
	switch len(groups) {
	case 1:
	case 2:
		s += "; and 1 more kind"
	default:
		s += fmt.Sprintf("; and %d more kinds", len(groups)-1)
	}
	return s + ")"
}
