package drills

import (
	"slices"
	"testing"

	"github.com/drillhq/drill/plugins"
)

func TestGroupProblems(t *testing.T) {
	fail := func(path, msg string) plugins.Problem {
		return plugins.Problem{Kind: plugins.ProblemFail, Path: path, Message: msg}
	}
	groups := groupProblems([]plugins.Problem{
		fail("d/a", "pack gone"), fail("d/b", "pack gone"),
		{Kind: plugins.ProblemError, Path: "d/c", Message: "pack gone"}, // another kind
		fail("d/d", "other"), fail("d/e", `"d/e" too big`), fail("", "exit 1"),
		fail("d/h", "pack gone"), fail("d/g", "pack gone"), fail("d/f", "pack gone"),
		fail("d/x1", "lchown /t/d/x1: no such file"), fail("d/x2", "lchown /t/d/x2: no such file"),
		fail("a", "pack gone"), // "pack" does not name it: grouped all the same
	})
	var got []string
	for _, g := range groups {
		got = append(got, g.reason())
	}
	want := []string{
		`6 files: pack gone: "a", "d/a", "d/b" and 3 more`,
		`"d/c": pack gone`,
		`"d/d": other`,
		`"d/e" too big`,
		"exit 1",
		`2 files: lchown /t/<name>: no such file: "d/x1", "d/x2"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("reasons\n%q\nwant\n%q", got, want)
	}
	if got, want := problemPaths(groups), `"a", "d/a", "d/b", "d/f", "d/g", "d/h", "d/c", "d/d", "d/e", "d/x1", "d/x2"`; got != want {
		t.Errorf("problemPaths %q, want %q", got, want)
	}
	if got := problemPaths(groups[1:]); got != "" {

		t.Errorf("problemPaths %q with every name shown, want none", got)
	}
	if got, want := summary("restic", groups), "12 problems reported by backend restic (6 files: pack gone; and 5 more kinds)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1007: "1,007", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
