package restic

import (
	"iter"
	"slices"
	"strings"
	"testing"
)

func TestParseLsLine(t *testing.T) {
	const id = "2058719f9186cddd495670b3c6d1d6f5e1b266cc9a80868b7432756690ba0fa3"
	for _, tc := range []struct {
		line string
		want lsNode
		ok   bool
		err  string
	}{
		{`{"time":"2026-11-30T20:59:57Z","tree":"47","paths":["/x"],"id":"` + id + `","struct_type":"snapshot","message_type":"snapshot"}`, lsNode{}, false, ""},
		{`{"id":"20","struct_type":"snapshot"}`, lsNode{}, false, "no valid id"},
		{`{"name":"f","type":"file","path":"/a/b/f","size":2,"struct_type":"node","message_type":"node"}`, lsNode{"/a/b/f", "file", 2}, true, ""},
		{`{"name":"new\nline","type":"file","path":"/c/new\nline","size":1,"struct_type":"node"}`, lsNode{"/c/new\nline", "file", 1}, true, ""},
		{`{"name":"d","type":"dir","path":"/d","struct_type":"node"}`, lsNode{"/d", "dir", 0}, true, ""},
		{`{"type":"file","path":"relative","struct_type":"node"}`, lsNode{}, false, "invalid path"},
		{`{"type":"file","path":"/a/../b","struct_type":"node"}`, lsNode{}, false, "invalid path"},
		{`{"type":"file","path":"/a","size":-1,"struct_type":"node"}`, lsNode{}, false, "invalid path or size"},
		{`{"path":"/a","struct_type":"node"}`, lsNode{}, false, "no type"},
		{`{"struct_type":"other"}`, lsNode{}, false, "unexpected struct_type"},
		{`not json`, lsNode{}, false, "parse restic ls"},
	} {
		n, snap, err := parseLsLine([]byte(tc.line))
		ok := n.Type != ""
		if !ok && err == nil && snap != id {
			t.Errorf("%s: snapshot %q, want %s", tc.line, snap, id)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || ok != tc.ok || n != tc.want {
			t.Errorf("%s: got %+v, %v, %v; want %+v, %v", tc.line, n, ok, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseLsLine(f *testing.F) {
	f.Add([]byte(`{"name":"f","type":"file","path":"/a/b/f","size":2,"struct_type":"node"}`))
	f.Add([]byte(`{"struct_type":"snapshot","id":"x"}`))
	f.Add([]byte(`{"type":"dir","path":"/","struct_type":"node"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		n, snap, err := parseLsLine(line)
		ok := n.Type != ""
		if err != nil && (ok || snap != "") || ok && snap != "" {
			t.Fatalf("node %+v, snapshot %q, err %v: want exactly one", n, snap, err)
		}
		if snap != "" && !isHexID(snap) {
			t.Fatalf("accepted snapshot id %q", snap)
		}
		if ok && (!strings.HasPrefix(n.Path, "/") || n.Type == "" || n.Size < 0) {
			t.Fatalf("accepted a bad node %+v", n)
		}
		// A spooled node reads back the same.
		if ok {
			sp, err := newSpool()
			if err != nil {
				t.Skip(err)
			}
			defer sp.close()
			sp.add(n)
			seq, rerr, err := sp.entries()
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Collect(seq)
			if rerr() != nil || len(got) != 1 || got[0] != n {
				t.Fatalf("spool round trip: %+v, %v; want %+v", got, rerr(), n)
			}
		}
	})
}

func TestComparePaths(t *testing.T) {
	// The order of a depth-first walk with sorted names.
	walk := []string{"/a", "/a/b", "/a/b/f", "/a/g", "/a.txt", "/b", "/b/\ufffdx", "/c"}
	for i := range walk {
		for j := range walk {
			got := comparePaths(walk[i], walk[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("comparePaths(%q, %q) = %d, want %d", walk[i], walk[j], got, want)
			}
		}
	}
}

func TestJSONName(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "bad\xffname": "bad\ufffdname", "\xff\xfe": "\ufffd\ufffd", "é": "é", "\xc3": "\ufffd"} {
		if got := jsonName(in); got != want {
			t.Errorf("jsonName(%q) = %q, want %q", in, got, want)
		}
	}
}

func seqOf(ns ...lsNode) iter.Seq[lsNode] { return slices.Values(ns) }

func TestCompareListing(t *testing.T) {
	d, f, l := "dir", "file", "symlink"
	snap := []lsNode{{"/a", d, 0}, {"/a/x", f, 3}, {"/a/y", f, 5}, {"/b", l, 0}, {"/s", "socket", 0}, {"/z", f, 1}}
	tests := []struct {
		name     string
		restored []lsNode
		includes []string
		ok       bool
		want     []string
	}{
		{"same", []lsNode{{"/a", d, 0}, {"/a/x", f, 3}, {"/a/y", f, 5}, {"/b", l, 0}, {"/z", f, 1}}, nil, true,
			[]string{"all 6 entries"}},
		{"missing subtree", []lsNode{{"/b", l, 0}, {"/z", f, 1}}, nil, false,
			[]string{"3 missing", `missing dir "/a"`, `missing file "/a/x"`}},
		{"wrong size and type", []lsNode{{"/a", d, 0}, {"/a/x", f, 4}, {"/a/y", f, 5}, {"/b", f, 0}, {"/z", f, 1}}, nil, false,
			[]string{"2 with the wrong type or size", `"/a/x" has 3 bytes in the snapshot but 4`, `"/b" is a symlink in the snapshot but a file`}},
		{"extra", []lsNode{{"/a", d, 0}, {"/a/w", f, 1}, {"/a/x", f, 3}, {"/a/y", f, 5}, {"/b", l, 0}, {"/z", f, 1}, {"/zz", d, 0}}, nil, false,
			[]string{"2 not in the snapshot", `not in the snapshot: file "/a/w"`, `dir "/zz"`}},
	}
	for _, tt := range tests {
		got := compareListing(seqOf(snap...), seqOf(tt.restored...), tt.includes)
		if got.ok() != tt.ok {
			t.Errorf("%s: ok = %v, want %v (%s)", tt.name, got.ok(), tt.ok, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got.String(), w) {
				t.Errorf("%s: %q does not say %q", tt.name, got, w)
			}
		}
	}
	// With include, the directories above the included path are restored
	// without being in the listing.
	inc := compareListing(seqOf(lsNode{"/srv/data/x", d, 0}, lsNode{"/srv/data/x/f", f, 1}),
		seqOf(lsNode{"/srv", d, 0}, lsNode{"/srv/data", d, 0}, lsNode{"/srv/data/x", d, 0}, lsNode{"/srv/data/x/f", f, 1}), []string{"/srv/data/x"})
	if !inc.ok() {
		t.Errorf("include: %s", inc)
	}
}
