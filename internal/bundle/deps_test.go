package bundle

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// verifier is the offline verifier's import path; store are the packages
// it must build without.
const verifier = "github.com/drillhq/drill/internal/bundle"

var store = []string{"go.etcd.io/bbolt", "github.com/drillhq/drill/internal/evidence"}

// TestVerifierHasNoStore checks that the offline verifier builds without
// the evidence store: neither bbolt nor internal/evidence is among the
// bundle package's dependencies, direct or indirect.
func TestVerifierHasNoStore(t *testing.T) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(gocmd, "list", "-deps", verifier).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range deps {
		if slices.ContainsFunc(store, func(s string) bool { return p == s || strings.HasPrefix(p, s+"/") }) {
			t.Errorf("internal/bundle depends on %s: the auditor's verifier must build without the evidence store", p)
		}
	}
	// What it does use, so that an empty or failed listing cannot pass.
	for _, p := range []string{"golang.org/x/mod/sumdb/tlog", "github.com/drillhq/drill/internal/evlog", "github.com/drillhq/drill/internal/envelope"} {
		if !slices.Contains(deps, p) {
			t.Errorf("go list -deps does not list %s among internal/bundle's dependencies:\n%s", p, out)
		}
	}
}
