package manifest

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	a, b := digestOf(t, hexA), digestOf(t, hexB)
	tests := []struct {
		name      string
		want, got []Entry
		diff      Diff
	}{
		{"the same files agree", []Entry{{"x", -1, a}, {"y", -1, b}}, []Entry{{"x", 1, a}, {"y", 1, b}}, Diff{}},
		{"both empty agree", nil, nil, Diff{}},
		{"a file the reference lists but the restore lacks is missing",
			[]Entry{{"x", -1, a}, {"y", -1, b}}, []Entry{{"x", 1, a}},
			Diff{Missing: []string{"y"}}},
		{"a restored file the reference does not list is extra",
			[]Entry{{"x", -1, a}}, []Entry{{"z", 1, b}, {"x", 1, a}},
			Diff{Extra: []string{"z"}}},
		{"a different digest is a mismatch",
			[]Entry{{"x", -1, a}}, []Entry{{"x", 1, b}},
			Diff{Mismatched: []string{"x"}}},
		{"a different known size is a mismatch",
			[]Entry{{"x", 2, a}}, []Entry{{"x", 1, a}},
			Diff{Mismatched: []string{"x"}}},
		{"an unknown size is not compared",
			[]Entry{{"x", -1, a}}, []Entry{{"x", 7, a}},
			Diff{}},
		{"every kind at once, each list sorted, unsorted inputs",
			[]Entry{{"m2", -1, a}, {"gone2", -1, a}, {"same", -1, a}, {"m1", -1, a}, {"gone1", -1, b}},
			[]Entry{{"new2", 1, a}, {"m1", 1, b}, {"same", 1, a}, {"new1", 1, a}, {"m2", 1, b}},
			Diff{Missing: []string{"gone1", "gone2"}, Extra: []string{"new1", "new2"}, Mismatched: []string{"m1", "m2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(&Manifest{Entries: tt.want}, &Manifest{Entries: tt.got})
			if !reflect.DeepEqual(got, tt.diff) {
				t.Errorf("got %+v, want %+v", got, tt.diff)
			}
			if got.Empty() != (len(tt.diff.Missing)+len(tt.diff.Extra)+len(tt.diff.Mismatched) == 0) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	d := Diff{
		Missing:    []string{"docs/b.txt", "new\nline"},
		Extra:      []string{"tmp/c"},
		Mismatched: []string{"docs/a.txt"},
	}
	tests := []struct {
		name string
		d    Diff
		max  int
		want []string
	}{
		{"no differences, no reasons", Diff{}, 10, []string{}},
		{"changed, then missing, then extra; names quoted on one line", d, 10, []string{
			`"docs/a.txt": content differs from the reference manifest`,
			`"docs/b.txt": missing`,
			`"new\nline": missing`,
			`"tmp/c": not in the reference manifest`,
		}},
		{"exactly max reasons need no summary", d, 4, []string{
			`"docs/a.txt": content differs from the reference manifest`,
			`"docs/b.txt": missing`,
			`"new\nline": missing`,
			`"tmp/c": not in the reference manifest`,
		}},
		{"more than max are summed up", d, 2, []string{
			`"docs/a.txt": content differs from the reference manifest`,
			`"docs/b.txt": missing`,
			`... and 2 more`,
		}},
		{"max 0 means all", d, 0, []string{
			`"docs/a.txt": content differs from the reference manifest`,
			`"docs/b.txt": missing`,
			`"new\nline": missing`,
			`"tmp/c": not in the reference manifest`,
		}},
		{"invalid UTF-8 is escaped", Diff{Extra: []string{"\xff"}}, 1, []string{`"\xff": not in the reference manifest`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Reasons(tt.max); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
