package drills

import (
	"github.com/drillhq/drill/internal/record"
)

// problem is something wrong a drill found that a check's detail alone
// does not say: damage a backend reported, a restored file that is not as
// reported, a drill that could not go on.
type problem struct {
	// check is the check the problem fails (restore_point, restore,
	// manifest ...), or "" for a problem of no check: an error before
	// anything could be checked (a backend that did not start).
	check string
	// fail is set for evidence that recovery as claimed is not possible;
	// otherwise the drill could not be carried out (an error).
	fail   bool
	reason string
}

// findings are what a drill found: the input of verdict.
type findings struct {
	problems []problem
	checks   []record.Check
	// interrupted says why the drill was stopped from outside, or "".
	interrupted string
	// restored is set once a restore completed and what came back was
	// checksummed.
	restored bool
}

// verdict decides a drill's verdict and its reasons from what it found.
//
// The rules (DESIGN.md, Verdicts):
//   - interrupted: the drill was cancelled from outside (a signal), whatever
//     else was found, because it did not run to its end;
//   - fail: any evidence that recovery as claimed is not possible: a fail
//     problem, or a failed check (damage, RPO, RTO or the timeout
//     exceeded). Found damage outweighs a later error: it is already proof;
//   - error: the drill could not be carried out and found nothing wrong;
//   - pass: data was restored and checked, and nothing above happened.
//
// A failed check gives the problems that name it as its reasons, or, when
// none does, "check NAME: DETAIL" as a fail: a failed check cannot pass,
// and one whose problems are all errors (it could not be made, as with an
// unreadable reference manifest) is an error. Reasons follow the checks'
// order; problems of no check come after, errors last.
func verdict(f findings) (record.Verdict, []string) {
	byCheck := map[string][]problem{}
	for _, p := range f.problems {
		byCheck[p.check] = append(byCheck[p.check], p)
	}
	var fails, errs []string
	add := func(ps []problem) {
		for _, p := range ps {
			if p.fail {
				fails = append(fails, p.reason)
			} else {
				errs = append(errs, p.reason)
			}
		}
	}
	for _, c := range f.checks {
		ps, named := byCheck[c.Name]
		switch {
		case named:
			add(ps)
			delete(byCheck, c.Name)
		case !c.OK:
			fails = append(fails, "check "+c.Name+": "+c.Detail)
		}
	}
	for _, p := range f.problems {
		if _, left := byCheck[p.check]; left {
			add([]problem{p})
		}
	}
	switch {
	case f.interrupted != "":
		return record.VerdictInterrupted, append([]string{f.interrupted}, append(fails, errs...)...)
	case len(fails) > 0:
		return record.VerdictFail, append(fails, errs...)
	case len(errs) > 0:
		return record.VerdictError, errs
	case !f.restored || len(f.checks) == 0:
		// Never a pass without restored and checked data.
		return record.VerdictError, []string{"the drill ended without restoring and checking data (internal error; please report)"}
	default:
		return record.VerdictPass, []string{}
	}
}
