package drills

import (
	"os"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/manifest"
)

// A restored tree whose paths are longer than PATH_MAX (4096 bytes) is
// reconciled like any other: the walk goes from descriptor to descriptor.
func TestReconcileDeeperThanPathMax(t *testing.T) {
	target := t.TempDir()
	dir, err := os.OpenRoot(target)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("n", 255)
	var rel []string
	for range 20 { // 20 * 256 bytes
		if err := dir.Mkdir(name, 0o700); err != nil {
			t.Fatal(err)
		}
		sub, err := dir.OpenRoot(name)
		if err != nil {
			t.Fatal(err)
		}
		_ = dir.Close()
		dir = sub
		rel = append(rel, name)
	}
	if err := dir.WriteFile("leaf", []byte("deep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dir.WriteFile("unreported", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = dir.Close()
	t.Cleanup(func() { _ = os.RemoveAll(target) })
	deep := strings.Join(rel, "/")
	if len(target)+len(deep) < 4096 {
		t.Fatalf("the tree is not deeper than PATH_MAX: %d bytes", len(target)+len(deep))
	}

	o := &outcome{}
	files := []reported{{Entry: manifest.Entry{Path: deep + "/leaf", Size: 4}, hashed: true}}
	todo, err := reconcile(target, files, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.fails) > 0 || len(o.errs) > 0 {
		t.Errorf("fails %q, errors %q", o.fails, o.errs)
	}
	if len(todo) != 1 || todo[0] != deep+"/unreported" {
		t.Errorf("unreported %q, want the deep file", todo)
	}

	// A size that differs is still found at that depth.
	files[0].Size = 5
	if _, err := reconcile(target, files, o); err != nil {
		t.Fatal(err)
	}
	if len(o.fails) != 1 || !strings.Contains(o.fails[0], "has 4 bytes on disk, the backend reported 5") {
		t.Errorf("fails %q, want the size difference", o.fails)
	}
}
