package drills

import (
	"reflect"
	"testing"

	"github.com/drillhq/drill/internal/record"
)

func TestVerdict(t *testing.T) {
	ok := func(name string) record.Check { return record.Check{Name: name, OK: true, Detail: name + " held"} }
	bad := func(name, detail string) record.Check { return record.Check{Name: name, Detail: detail} }
	fail := func(check, reason string) problem { return problem{check: check, fail: true, reason: reason} }
	errp := func(check, reason string) problem { return problem{check: check, reason: reason} }
	restore := ok("restore")
	tests := []struct {
		name        string
		f           findings
		want        record.Verdict
		wantReasons []string
	}{
		{"restored and checked", findings{restored: true, checks: []record.Check{restore}}, record.VerdictPass, []string{}},
		{"nothing restored is never a pass", findings{checks: []record.Check{restore}}, record.VerdictError, nil},
		{"restored but unchecked is never a pass", findings{restored: true}, record.VerdictError, nil},
		{"a failed check is a fail even when no reason was added",
			findings{restored: true, checks: []record.Check{restore, bad("min_files", "1 files restored, at least 2 expected")}},
			record.VerdictFail, []string{"check min_files: 1 files restored, at least 2 expected"}},
		{"a failed check gives the problems that name it as its reasons",
			findings{restored: true, checks: []record.Check{bad("restore", "restore incomplete: 2 problems")},
				problems: []problem{fail("restore", `"a": damaged`), fail("restore", `"b": damaged`)}},
			record.VerdictFail, []string{`"a": damaged`, `"b": damaged`}},
		{"a check that could not be made is an error",
			findings{restored: true, checks: []record.Check{restore, bad("manifest", "open ref: permission denied")},
				problems: []problem{errp("manifest", "check manifest: cannot read the reference manifest: open ref: permission denied")}},
			record.VerdictError, []string{"check manifest: cannot read the reference manifest: open ref: permission denied"}},
		{"a fail problem fails even with its check passed or missing",
			findings{restored: true, checks: []record.Check{restore}, problems: []problem{fail("restore", "wrong point"), fail("gone", "x")}},
			record.VerdictFail, []string{"wrong point", "x"}},
		{"reasons follow the checks' order, errors last",
			findings{restored: true,
				checks:   []record.Check{bad("restore_point", "vanished"), bad("restore", "damaged"), bad("rpo", "old")},
				problems: []problem{errp("", "cleanup failed"), fail("restore", "damaged a"), fail("restore_point", "vanished p")}},
			record.VerdictFail, []string{"vanished p", "damaged a", "check rpo: old", "cleanup failed"}},
		{"an error alone is an error", findings{problems: []problem{errp("", "unreachable")}}, record.VerdictError, []string{"unreachable"}},
		{"found damage outweighs a later error", findings{problems: []problem{fail("restore", "damaged"), errp("", "cleanup")}},
			record.VerdictFail, []string{"damaged", "cleanup"}},
		{"interrupted wins", findings{interrupted: "stopped", problems: []problem{fail("restore", "x")}, checks: []record.Check{bad("rpo", "old")}},
			record.VerdictInterrupted, []string{"stopped", "check rpo: old", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := verdict(tt.f)
			if got != tt.want {
				t.Errorf("verdict = %q, want %q", got, tt.want)
			}
			if tt.wantReasons != nil && !reflect.DeepEqual(reasons, tt.wantReasons) {
				t.Errorf("reasons = %q, want %q", reasons, tt.wantReasons)
			}
			if len(reasons) == 0 && got != record.VerdictPass {
				t.Errorf("verdict %s without a reason", got)
			}
		})
	}
}
