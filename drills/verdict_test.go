package drills

import (
	"reflect"
	"testing"

	"github.com/drillhq/drill/internal/record"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		name        string
		o           outcome
		want        record.Verdict
		wantReasons []string
	}{
		{"restored and checked", outcome{restored: true, checked: true}, record.VerdictPass, []string{}},
		{"nothing restored is never a pass", outcome{checked: true}, record.VerdictError, nil},
		{"restored but unchecked is never a pass", outcome{restored: true}, record.VerdictError, nil},
		{"a failed check fails", outcome{restored: true, checked: true, fails: []string{"min_files"}}, record.VerdictFail, []string{"min_files"}},
		{"an error alone is an error", outcome{errs: []string{"unreachable"}}, record.VerdictError, []string{"unreachable"}},
		{"found damage outweighs a later error", outcome{fails: []string{"damaged"}, errs: []string{"cleanup"}}, record.VerdictFail, []string{"damaged", "cleanup"}},
		{"interrupted wins", outcome{interrupted: "stopped", fails: []string{"x"}}, record.VerdictInterrupted, []string{"stopped", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := tt.o.verdict()
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
