package restic

import (
	"testing"

	"github.com/drillhq/drill/plugins"
)

func TestUnitDepth(t *testing.T) {
	listing := func(paths ...string) *unitCounter {
		u := &unitCounter{}
		for _, p := range paths {
			typ := "file"
			if p[len(p)-1] == '/' {
				typ, p = "dir", p[:len(p)-1]
			}
			u.add(lsNode{Path: p, Type: typ})
		}
		return u
	}
	var tree []string
	tree = append(tree, "/srv/", "/srv/data/")
	for i := range 40 {
		d := "/srv/data/d" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		tree = append(tree, d+"/")
		for j := range 10 {
			tree = append(tree, d+"/f"+string(rune('0'+j)))
		}
	}
	for _, tt := range []struct {
		name   string
		u      *unitCounter
		slices int
		want   int
	}{
		// 40 directories of 10 files under /srv/data: units at depth 3.
		{"directories", listing(tree...), 2, 3},
		// 16 units per slice are not there above the files: the files'
		// own depth, a unit per file.
		{"too few directories", listing(tree...), 4, 4},
		// One directory holds most files: no depth keeps units fair.
		{"one big directory", listing(append(tree[:3:3], "/srv/data/big/", "/srv/data/big/a", "/srv/data/big/b", "/srv/data/big/c", "/srv/x")...), 2, 0},
	} {
		if got := tt.u.depth(tt.slices); got != tt.want {
			t.Errorf("%s: depth(%d) = %d, want %d", tt.name, tt.slices, got, tt.want)
		}
	}
}

func TestUnit(t *testing.T) {
	for _, tt := range []struct {
		p     string
		depth int
		want  string
	}{
		{"/srv/data/a/b", 0, "srv/data/a/b"},
		{"/srv/data/a/b", 2, "srv/data"},
		{"srv/data/a/b", 3, "srv/data/a"},
		{"/srv/data", 3, "srv/data"},
		{"/srv/data/a", 3, "srv/data/a"},
	} {
		if got := plugins.Unit(tt.p, tt.depth); got != tt.want {
			t.Errorf("Unit(%q, %d) = %q, want %q", tt.p, tt.depth, got, tt.want)
		}
	}
}

func TestIncludePattern(t *testing.T) {
	for p, want := range map[string]string{
		"/srv/a b/c.txt":  "/srv/a b/c.txt",
		"/srv/[x]*?.txt":  `/srv/\[x\]\*\?.txt`,
		"/srv/$HOME":      "/srv/$$HOME",
		"/srv/back\\sl":   `/srv/back\\sl`,
		"/srv/trailing  ": "/srv/trailing[ ][ ]",
		"/srv/bad\ufffd":  "/srv/bad?",
	} {
		if got := includePattern(p); got != want {
			t.Errorf("includePattern(%q) = %q, want %q", p, got, want)
		}
	}
}
