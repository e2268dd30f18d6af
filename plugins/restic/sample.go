package restic

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drillhq/drill/plugins"
)

// A sampled restore restores one slice of the snapshot: the listing is
// read to its end first, the units in the slice are written to an include
// file (restic restore --include-file), and the listing check compares
// only their entries.
//
// restic matches each path it visits against every include pattern, so a
// pattern per sampled file would cost files x sampled files comparisons
// (a 10% slice of 50,000 files took longer than restoring them all).
// The paths are therefore cut into units at a depth chosen from the
// listing (plugins.Unit): whole subtrees where that keeps every unit within
// a slice's fair share of the entries, with at least 16 units per slice;
// restic then skips the subtrees of other slices without visiting them.
// A flat directory of many files leaves only depth 0, a pattern per file.

// sampleSet is a sample's include file and the snapshot's totals.
type sampleSet struct {
	file                   string // the include file; "" when the slice holds nothing
	picked                 int64  // units in the slice
	totalFiles, totalBytes int64  // regular files of the listing and their bytes
	depth                  int    // the units' depth (plugins.Unit)
}

func (ss *sampleSet) remove() {
	if ss.file != "" {
		_ = os.Remove(ss.file)
	}
}

// sample reads the whole listing and writes the include file of the
// entries in sample. The listing must be of the snapshot restored.
func (l *listing) sample(ctx context.Context, s *source, sample *plugins.Sample, short string) (*sampleSet, error) {
	<-l.done
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.failure("list snapshot "+short, l.res); err != nil {
		return nil, err
	}
	if l.res.code != 0 || len(l.res.errors) > 0 {
		return nil, fmt.Errorf("restic ls of snapshot %s, to choose the sample: %s", short, l.res.message())
	}
	if l.perr != nil {
		return nil, l.perr
	}
	seq, rerr, err := l.sp.entries()
	if err != nil {
		return nil, err
	}
	ss := &sampleSet{}
	var units unitCounter
	for n := range seq {
		if n.Type == "file" {
			ss.totalFiles++
			ss.totalBytes += n.Size
		}
		units.add(n)
	}
	if err := rerr(); err != nil {
		return nil, err
	}
	ss.depth = units.depth(sample.Slices)
	if seq, rerr, err = l.sp.entries(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "drill-restic-sample-*")
	if err != nil {
		return nil, fmt.Errorf("create the sample's include file: %w", err)
	}
	ss.file = f.Name()
	w := bufio.NewWriterSize(f, 256<<10)
	last := "\x00"
	for n := range seq {
		if n.Type == "dir" || skipped(n) || !sample.HasAt(n.Path, ss.depth) {
			continue
		}
		// The listing is depth first: a unit's entries come together.
		if u := plugins.Unit(n.Path, ss.depth); u != last {
			last = u
			ss.picked++
			_, _ = w.WriteString(includePattern("/" + u))
			_ = w.WriteByte('\n')
		}
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rerr()
	}
	if err != nil {
		ss.remove()
		return nil, fmt.Errorf("write the sample's include file: %w", err)
	}
	if ss.picked == 0 {
		ss.remove()
		ss.file = ""
	}
	return ss, nil
}

// includePattern is a line of an include file that matches exactly the
// snapshot path p (as restic's JSON shows it): restic's pattern characters
// are escaped, "$" doubled (restic expands variables in include files),
// whitespace at the end put in a class (restic trims lines), and the bytes
// JSON could not carry (U+FFFD) and line breaks matched with "?".
func includePattern(p string) string {
	end := len(strings.TrimRightFunc(p, unicode.IsSpace))
	var b strings.Builder
	for i, r := range p {
		switch {
		case r == utf8.RuneError || r == '\n' || r == '\r':
			b.WriteByte('?')
		case r == '$':
			b.WriteString("$$")
		case strings.ContainsRune(`\*?[]`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case i >= end:
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unitCounter finds, in one pass over a depth-first listing, how many
// units and how large the largest are when paths are cut at each depth.
type unitCounter struct {
	entries int64   // non-directory entries
	dirsAt  []int64 // directories at each depth (path components)
	leafAt  []int64 // non-directory entries at each depth
	// cur and curUnit are the entries counted under the current directory
	// at each depth; largest the most under one directory at each depth.
	cur     []int64
	curUnit []string
	largest []int64
}

// maxUnitDepth bounds the depths considered, and the work per entry of a
// very deep tree.
const maxUnitDepth = 32

func (u *unitCounter) add(n lsNode) {
	if skipped(n) {
		return
	}
	p := strings.TrimPrefix(n.Path, "/")
	k := strings.Count(p, "/") + 1
	for len(u.dirsAt) <= min(k, maxUnitDepth+1) {
		u.dirsAt, u.leafAt = append(u.dirsAt, 0), append(u.leafAt, 0)
		u.cur, u.curUnit, u.largest = append(u.cur, 0), append(u.curUnit, ""), append(u.largest, 1)
	}
	if n.Type == "dir" {
		u.dirsAt[min(k, maxUnitDepth+1)]++
		return
	}
	u.entries++
	u.leafAt[min(k, maxUnitDepth+1)]++
	end := 0
	for d := 1; d < k && d <= maxUnitDepth; d++ {
		end += strings.IndexByte(p[end:], '/') + 1
		unit := p[:end-1]
		if unit != u.curUnit[d] {
			u.curUnit[d], u.cur[d] = unit, 0
		}
		u.cur[d]++
		u.largest[d] = max(u.largest[d], u.cur[d])
	}
}

// depth is the shallowest depth at which the listing has at least 16
// units per slice and no unit holds more than a slice's share of the
// entries; 0 (each entry a unit) when no depth does.
func (u *unitCounter) depth(slices int) int {
	fair := max(1, u.entries/int64(slices))
	var leaves int64
	for d := 1; d < len(u.dirsAt) && d <= maxUnitDepth; d++ {
		leaves += u.leafAt[d]
		if u.dirsAt[d]+leaves >= 16*int64(slices) && u.largest[d] <= fair {
			return d
		}
	}
	return 0
}

// inSample keeps the listing entries a sampled restore restores: the
// entries in the sample's units that are not directories (directories are
// restored as the units hold them or need them).
func inSample(seq iter.Seq[lsNode], sample *plugins.Sample, depth int) iter.Seq[lsNode] {
	return func(yield func(lsNode) bool) {
		for n := range seq {
			if n.Type != "dir" && !skipped(n) && sample.HasAt(n.Path, depth) && !yield(n) {
				return
			}
		}
	}
}

// noDirs drops the directories of the restored tree.
func noDirs(seq iter.Seq[lsNode]) iter.Seq[lsNode] {
	return func(yield func(lsNode) bool) {
		for n := range seq {
			if n.Type != "dir" && !yield(n) {
				return
			}
		}
	}
}
