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
// read to its end first, the entries in the slice are written to an
// include file (restic restore --include-file), and the listing check
// compares only those entries. restic matches every path of the snapshot
// against every pattern, so a sample's restore costs about files x sampled
// files pattern comparisons on top of restoring the slice (see
// docs/benchmarks.md).

// sampleSet is a sample's include file and the snapshot's totals.
type sampleSet struct {
	file                   string // the include file; "" when the slice holds nothing
	picked                 int64  // entries in the slice
	totalFiles, totalBytes int64  // regular files of the listing and their bytes
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
	f, err := os.CreateTemp("", "drill-restic-sample-*")
	if err != nil {
		return nil, fmt.Errorf("create the sample's include file: %w", err)
	}
	ss := &sampleSet{file: f.Name()}
	w := bufio.NewWriterSize(f, 256<<10)
	for n := range seq {
		if n.Type == "file" {
			ss.totalFiles++
			ss.totalBytes += n.Size
		}
		if n.Type == "dir" || skipped(n) || !sample.Has(n.Path) {
			continue
		}
		ss.picked++
		_, _ = w.WriteString(includePattern(n.Path))
		_ = w.WriteByte('\n')
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

// inSample keeps the listing entries a sampled restore restores: the
// sampled entries that are not directories (restic makes the directories
// above them).
func inSample(seq iter.Seq[lsNode], sample *plugins.Sample) iter.Seq[lsNode] {
	return func(yield func(lsNode) bool) {
		for n := range seq {
			if n.Type != "dir" && sample.Has(n.Path) && !yield(n) {
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
