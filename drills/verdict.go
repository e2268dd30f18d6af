package drills

import (
	"github.com/drillhq/drill/internal/record"
)

// outcome collects what a drill found, and decides the verdict from it.
//
// The rules (DESIGN.md, Verdicts):
//   - interrupted: the drill was cancelled from outside (a signal), whatever
//     else was found, because it did not run to its end;
//   - fail: any evidence that recovery as claimed is not possible (damage,
//     a failed check, RPO, RTO or the timeout exceeded). Found damage
//     outweighs a later error: it is already proof;
//   - error: the drill could not be carried out and found nothing wrong;
//   - pass: data was restored and checked, and nothing above happened.
type outcome struct {
	fails       []string
	errs        []string
	interrupted string
	restored    bool // a restore completed and its files were checksummed
	checked     bool // at least one check ran
}

func (o *outcome) fail(reason string)  { o.fails = append(o.fails, reason) }
func (o *outcome) error(reason string) { o.errs = append(o.errs, reason) }

func (o *outcome) verdict() (record.Verdict, []string) {
	switch {
	case o.interrupted != "":
		return record.VerdictInterrupted, append([]string{o.interrupted}, append(o.fails, o.errs...)...)
	case len(o.fails) > 0:
		return record.VerdictFail, append(o.fails, o.errs...)
	case len(o.errs) > 0:
		return record.VerdictError, o.errs
	case !o.restored || !o.checked:
		// Never a pass without restored and checked data.
		return record.VerdictError, []string{"the drill ended without restoring and checking data (internal error; please report)"}
	default:
		return record.VerdictPass, []string{}
	}
}
