package manifest

import (
	"fmt"
	"slices"
	"strconv"
)

// Diff is how a manifest differs from a reference. Each list holds paths,
// sorted in plain byte order.
type Diff struct {
	// Missing are in the reference but not in the manifest.
	Missing []string
	// Extra are in the manifest but not in the reference.
	Extra []string
	// Mismatched are in both with a different digest, or a different size
	// where both sizes are known.
	Mismatched []string
}

// Compare compares got (what was restored) with want (the reference).
// Neither manifest needs to be sorted.
func Compare(want, got *Manifest) Diff {
	gotByPath := make(map[string]*Entry, len(got.Entries))
	for i := range got.Entries {
		gotByPath[got.Entries[i].Path] = &got.Entries[i]
	}
	var d Diff
	wanted := make(map[string]bool, len(want.Entries))
	for i := range want.Entries {
		w := &want.Entries[i]
		wanted[w.Path] = true
		g, ok := gotByPath[w.Path]
		switch {
		case !ok:
			d.Missing = append(d.Missing, w.Path)
		case g.SHA256 != w.SHA256, g.Size >= 0 && w.Size >= 0 && g.Size != w.Size:
			d.Mismatched = append(d.Mismatched, w.Path)
		}
	}
	for i := range got.Entries {
		if !wanted[got.Entries[i].Path] {
			d.Extra = append(d.Extra, got.Entries[i].Path)
		}
	}
	slices.Sort(d.Missing)
	slices.Sort(d.Extra)
	slices.Sort(d.Mismatched)
	return d
}

// Empty reports whether the manifests agree.
func (d Diff) Empty() bool {
	return len(d.Missing) == 0 && len(d.Extra) == 0 && len(d.Mismatched) == 0
}

// Reasons describes the differences for a verdict, one line each: changed
// files first, then missing, then extra ones:
//
//	"docs/a.txt": content differs from the reference manifest
//	"docs/b.txt": missing
//	"tmp/c": not in the reference manifest
//
// Names are quoted like strconv.Quote, so a newline in a name stays on one
// line. At most max lines are returned, then one "... and N more" line;
// max <= 0 means no limit. An empty Diff has no reasons.
func (d Diff) Reasons(max int) []string {
	total := len(d.Mismatched) + len(d.Missing) + len(d.Extra)
	n := total
	if max > 0 && max < total {
		n = max
	}
	out := make([]string, 0, n+1)
	add := func(paths []string, what string) {
		for _, p := range paths {
			if len(out) == n {
				return
			}
			out = append(out, strconv.Quote(p)+": "+what)
		}
	}
	add(d.Mismatched, "content differs from the reference manifest")
	add(d.Missing, "missing")
	add(d.Extra, "not in the reference manifest")
	if n < total {
		out = append(out, fmt.Sprintf("... and %d more", total-n))
	}
	return out
}
