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
		fail("d/f", "pack gone"), fail("d/g", "pack gone"), fail("d/h", "pack gone"),
	})
	var got []string
	for _, g := range groups {
		got = append(got, g.reason())
	}
	want := []string{
		`5 files: pack gone: "d/a", "d/b", "d/f" and 2 more`,
		`"d/c": pack gone`,
		`"d/d": other`,
		`"d/e" too big`,
		"exit 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reasons\n%q\nwant\n%q", got, want)
	}
	if got, want := problemPaths(groups), `"d/a", "d/b", "d/f", "d/g", "d/h", "d/c", "d/d", "d/e"`; got != want {
		t.Errorf("problemPaths %q, want %q", got, want)
	}
	if got := problemPaths(groups[1:]); got != "" {
		t.Errorf("problemPaths %q with every name shown, want none", got)
	}
	if got, want := summary("restic", groups), "9 problems reported by backend restic (5 files: pack gone; and 4 more kinds)"; got != want {
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
