package restic

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/drillhq/drill/internal/textsafe"
)

// maxTopNames is how many of the snapshot's top-level entries a reason
// names.
const maxTopNames = 5

// includeMiss explains includes that restored no file of snapshot id: the
// snapshot's top-level entries (`restic ls id /`), so that the operator
// sees where its files start. A snapshot made from inside the folder
// (`cd /srv/files && restic backup .`) lists /srv/files as its path but
// holds a.txt at /a.txt, and include /srv/files/sub matches nothing.
func (s *source) includeMiss(ctx context.Context, id string, paths []string) (string, error) {
	inv, err := s.invocation("ls", id, "/")
	if err != nil {
		return "", err
	}
	r := inv.run(ctx)
	if err := s.failure("list the top of snapshot "+id[:8], r); err != nil {
		return "", err
	}
	var top []lsNode
	for line := range bytes.SplitSeq(r.stdout, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n, _, err := parseLsLine(line)
		if err != nil || n.Path == "" || n.Path == "/" {
			continue // the snapshot line, or the listed folder itself
		}
		top = append(top, n)
	}
	return includeMissMessage(id[:8], s.include, paths, top), nil
}

// includeMissMessage says that includes matched no file of a snapshot
// with these paths whose tree starts with top, and how to name them.
func includeMissMessage(short string, includes, paths []string, top []lsNode) string {
	var b strings.Builder
	fmt.Fprintf(&b, "include %s restored no file of snapshot %s", strings.Join(includes, ", "), short)
	if len(paths) > 0 {
		fmt.Fprintf(&b, " (of %s)", strings.Join(paths, ", "))
	}
	if len(top) == 0 {
		b.WriteString(": the snapshot's tree is empty")
		return textsafe.Escape(b.String())
	}
	names := make([]string, 0, maxTopNames)
	for _, n := range top[:min(len(top), maxTopNames)] {
		name := path.Base(n.Path)
		if n.Type == "dir" {
			name += "/"
		}
		names = append(names, name)
	}
	if len(top) > maxTopNames {
		names = append(names, fmt.Sprintf("and %d more", len(top)-maxTopNames))
	}
	fmt.Fprintf(&b, ": its tree starts at / with %s", strings.Join(names, ", "))
	// A snapshot of one path whose tree does not begin with that path's
	// first folder was made from inside it (restic backup .): its files
	// are at the top.
	if len(paths) == 1 && strings.HasPrefix(paths[0], "/") && paths[0] != "/" {
		p := path.Clean(paths[0])
		first := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)[0]
		inside := true
		for _, n := range top {
			if n.Path == "/"+first {
				inside = false
			}
		}
		if inside {
			var fixed []string
			for _, inc := range includes {
				if rel, ok := strings.CutPrefix(path.Clean(inc), p); ok && (rel == "" || rel[0] == '/') {
					fixed = append(fixed, "/"+strings.TrimPrefix(rel, "/"))
				}
			}
			fmt.Fprintf(&b, ", not at %s (the backup was made from inside it, as cd %s && restic backup .)", p, p)
			if len(fixed) > 0 {
				fmt.Fprintf(&b, "; name the paths as the tree has them: include %s", strings.Join(fixed, ", "))
			}
			return textsafe.Escape(b.String())
		}
	}
	b.WriteString("; name include paths as the tree has them, from /")
	return textsafe.Escape(b.String())
}
