package restic

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// The listing check compares the restored tree with the snapshot's own
// listing (`restic ls --json`): every entry present, with its type, and
// every regular file with its size. Both sides are streamed in the same
// order (depth first, names sorted), so memory stays small however many
// files the snapshot holds: restic's listing is spooled to an unlinked
// temporary file while the restore runs, in a compact form, and merged
// with a walk of the target afterwards.

// lsNode is one entry of the snapshot's listing.
type lsNode struct {
	// Path is absolute in the snapshot, slash-separated. Names restic's
	// JSON could not carry (invalid UTF-8) hold U+FFFD for each bad byte.
	Path string
	Type string
	Size int64
}

// parseLsLine parses one line of `restic ls --json`: a node, or (the
// first line) the snapshot listed, whose ID it returns.
func parseLsLine(line []byte) (n lsNode, snapshot string, err error) {
	var w struct {
		StructType  string `json:"struct_type"`
		MessageType string `json:"message_type"`
		ID          string `json:"id"`
		Type        string `json:"type"`
		Path        string `json:"path"`
		Size        int64  `json:"size"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &w); err != nil {
		return lsNode{}, "", fmt.Errorf("parse restic ls --json: %w", err)
	}
	kind := w.StructType
	if kind == "" {
		kind = w.MessageType
	}
	switch kind {
	case "snapshot":
		if !isHexID(w.ID) {
			return lsNode{}, "", fmt.Errorf("parse restic ls --json: snapshot has no valid id (%q)", w.ID)
		}
		return lsNode{}, w.ID, nil
	case "node":
	default:
		return lsNode{}, "", fmt.Errorf("parse restic ls --json: unexpected struct_type %q", kind)
	}
	if w.Type == "" {
		return lsNode{}, "", fmt.Errorf("parse restic ls --json: node %q has no type", w.Path)
	}
	if !strings.HasPrefix(w.Path, "/") || w.Path != "/" && cleanSlash(w.Path) != w.Path || w.Size < 0 {
		return lsNode{}, "", fmt.Errorf("parse restic ls --json: node %q has an invalid path or size", w.Path)
	}
	return lsNode{Path: w.Path, Type: w.Type, Size: w.Size}, "", nil
}

// cleanSlash reports p with empty, "." and ".." elements removed, for
// checking that a path is already clean.
func cleanSlash(p string) string {
	var out []string
	for el := range strings.SplitSeq(p, "/") {
		if el == "" || el == "." || el == ".." {
			continue
		}
		out = append(out, el)
	}
	return "/" + strings.Join(out, "/")
}

// spool keeps listing entries in a temporary file that has no name, so
// nothing is left behind whatever happens to the process.
type spool struct {
	f   *os.File
	w   *bufio.Writer
	n   int64
	err error
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "drill-restic-ls-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file for the snapshot's listing: %w", err)
	}
	_ = os.Remove(f.Name())
	return &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (s *spool) add(n lsNode) {
	if s.err != nil {
		return
	}
	var hdr [3 * binary.MaxVarintLen64]byte
	k := binary.PutUvarint(hdr[:], uint64(len(n.Path)))
	k += binary.PutUvarint(hdr[k:], uint64(len(n.Type)))
	k += binary.PutVarint(hdr[k:], n.Size)
	_, _ = s.w.Write(hdr[:k])
	_, _ = s.w.WriteString(n.Path)
	_, s.err = s.w.WriteString(n.Type)
	s.n++
}

// entries returns the spooled entries in order.
func (s *spool) entries() (iter.Seq[lsNode], func() error, error) {
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return nil, nil, fmt.Errorf("spool the snapshot's listing: %w", s.err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	r := bufio.NewReaderSize(s.f, 256<<10)
	var rerr error
	seq := func(yield func(lsNode) bool) {
		for {
			pl, err := binary.ReadUvarint(r)
			if errors.Is(err, io.EOF) {
				return
			}
			tl, err2 := binary.ReadUvarint(r)
			size, err3 := binary.ReadVarint(r)
			if err = errors.Join(err, err2, err3); err != nil || pl > 1<<20 || tl > 64 {
				rerr = fmt.Errorf("read back the snapshot's listing: %v", err) //nolint:errorlint // err is nil when a length is implausible
				return
			}
			b := make([]byte, pl+tl)
			if _, err := io.ReadFull(r, b); err != nil {
				rerr = fmt.Errorf("read back the snapshot's listing: %w", err)
				return
			}
			if !yield(lsNode{Path: string(b[:pl]), Type: string(b[pl:]), Size: size}) {
				return
			}
		}
	}
	return seq, func() error { return rerr }, nil
}

func (s *spool) close() { _ = s.f.Close() }

// jsonName is how restic's JSON shows a name: each byte that is not part
// of valid UTF-8 becomes U+FFFD, as encoding/json writes it.
func jsonName(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// walkTarget yields the entries below target in listing order: depth
// first, each directory's names sorted as restic sorts them, with paths
// absolute in the snapshot and names as restic's JSON shows them.
func walkTarget(target string, errp *error) iter.Seq[lsNode] {
	return func(yield func(lsNode) bool) {
		var walk func(dir, snap string) bool
		walk = func(dir, snap string) bool {
			ents, err := os.ReadDir(dir)
			if err != nil {
				*errp = fmt.Errorf("read the restored directory %q: %w", snap, err)
				return false
			}
			type named struct {
				json string
				ent  fs.DirEntry
			}
			ns := make([]named, len(ents))
			for i, e := range ents {
				ns[i] = named{jsonName(e.Name()), e}
			}
			slices.SortFunc(ns, func(a, b named) int { return strings.Compare(a.json, b.json) })
			for _, n := range ns {
				p := snap + "/" + n.json
				if snap == "/" {
					p = "/" + n.json
				}
				full := filepath.Join(dir, n.ent.Name())
				fi, err := os.Lstat(full)
				if err != nil {
					*errp = fmt.Errorf("stat the restored %q: %w", p, err)
					return false
				}
				node := lsNode{Path: p, Type: nodeType(fi.Mode())}
				if fi.Mode().IsRegular() {
					node.Size = fi.Size()
				}
				if !yield(node) {
					return false
				}
				if fi.IsDir() && !walk(full, p) {
					return false
				}
			}
			return true
		}
		walk(target, "/")
	}
}

// nodeType names a file mode as restic's listing does.
func nodeType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeCharDevice != 0:
		return "chardev"
	case m&fs.ModeDevice != 0:
		return "dev"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "irregular"
}

// comparePaths orders slash-separated absolute paths as a depth-first
// walk with sorted names visits them: element by element, a parent before
// its children.
func comparePaths(a, b string) int {
	for {
		ae, arest, amore := strings.Cut(strings.TrimPrefix(a, "/"), "/")
		be, brest, bmore := strings.Cut(strings.TrimPrefix(b, "/"), "/")
		if c := strings.Compare(ae, be); c != 0 {
			return c
		}
		switch {
		case !amore && !bmore:
			return 0
		case !amore:
			return -1
		case !bmore:
			return 1
		}
		a, b = arest, brest
	}
}

// listingDiff is what the listing check found.
type listingDiff struct {
	checked                     int64
	missing, extra, wrong       int64
	examples                    []string
	missingEx, extraEx, wrongEx int
}

const maxListingExamples = 5

func (d *listingDiff) note(kind *int64, count *int, format string, args ...any) {
	*kind++
	if *count < maxListingExamples {
		*count++
		d.examples = append(d.examples, fmt.Sprintf(format, args...))
	}
}

func (d *listingDiff) ok() bool { return d.missing == 0 && d.extra == 0 && d.wrong == 0 }

func (d *listingDiff) String() string {
	if d.ok() {
		return fmt.Sprintf("all %d entries of the snapshot's listing are in the restore with their type and size", d.checked)
	}
	var parts []string
	if d.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d missing", d.missing))
	}
	if d.wrong > 0 {
		parts = append(parts, fmt.Sprintf("%d with the wrong type or size", d.wrong))
	}
	if d.extra > 0 {
		parts = append(parts, fmt.Sprintf("%d not in the snapshot", d.extra))
	}
	return fmt.Sprintf("of %d entries in the snapshot's listing, %s: %s", d.checked, strings.Join(parts, ", "), strings.Join(d.examples, "; "))
}

// skipped reports listing entries that are not in the restore on
// purpose: sockets and irregular files restic does not restore, and the
// device nodes and FIFOs sweepTarget removes.
func skipped(n lsNode) bool {
	switch n.Type {
	case "socket", "irregular", "dev", "chardev", "fifo":
		return true
	}
	return false
}

// compareListing merges the snapshot's listing with the restored tree.
// includes are the restored subtrees (absolute snapshot paths), or nil
// for the whole snapshot: the directories above them exist in the restore
// without being in the listing.
func compareListing(listing, restored iter.Seq[lsNode], includes []string) *listingDiff {
	d := &listingDiff{}
	nextL, stopL := iter.Pull(listing)
	defer stopL()
	nextR, stopR := iter.Pull(restored)
	defer stopR()
	above := func(p string) bool {
		for _, inc := range includes {
			if strings.HasPrefix(jsonName(inc), p+"/") {
				return true
			}
		}
		return false
	}
	l, lok := nextL()
	r, rok := nextR()
	for lok || rok {
		if lok && skipped(l) {
			d.checked++
			l, lok = nextL()
			continue
		}
		c := 0
		switch {
		case !rok:
			c = -1
		case !lok:
			c = 1
		default:
			c = comparePaths(l.Path, r.Path)
		}
		switch {
		case c < 0:
			d.checked++
			d.note(&d.missing, &d.missingEx, "missing %s %q", l.Type, l.Path)
			l, lok = nextL()
		case c > 0:
			if !(r.Type == "dir" && above(r.Path)) {
				d.note(&d.extra, &d.extraEx, "not in the snapshot: %s %q", r.Type, r.Path)
			}
			r, rok = nextR()
		default:
			d.checked++
			switch {
			case l.Type != r.Type:
				d.note(&d.wrong, &d.wrongEx, "%q is a %s in the snapshot but a %s in the restore", l.Path, l.Type, r.Type)
			case l.Type == "file" && l.Size != r.Size:
				d.note(&d.wrong, &d.wrongEx, "%q has %d bytes in the snapshot but %d in the restore", l.Path, l.Size, r.Size)
			}
			l, lok = nextL()
			r, rok = nextR()
		}
	}
	return d
}
