package propose

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/drillhq/drill/plugins"
)

// snapshotSet is the snapshots of one host and one set of paths in a
// restic repository: what one backup job makes.
type snapshotSet struct {
	host   string
	paths  []string
	points []plugins.RestorePoint
}

// parseSnapshotDesc reads the host and paths out of the restic backend's
// description of a snapshot, "snapshot 1a2b3c4d of HOST:PATH,PATH [TAGS]";
// false when it is not one.
func parseSnapshotDesc(desc string) (host string, paths []string, ok bool) {
	rest, ok := strings.CutPrefix(desc, "snapshot ")
	if !ok {
		return "", nil, false
	}
	_, rest, ok = strings.Cut(rest, " of ")
	if !ok {
		return "", nil, false
	}
	host, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return "", nil, false
	}
	if i := strings.LastIndex(rest, " ["); i >= 0 && strings.HasSuffix(rest, "]") {
		rest = rest[:i]
	}
	return host, strings.Split(rest, ","), true
}

// snapshotSets groups restore points by host and paths, the set of the
// newest point first; nil when a description cannot be read.
func snapshotSets(points []plugins.RestorePoint, newest plugins.RestorePoint) []*snapshotSet {
	var sets []*snapshotSet
	for _, pt := range points {
		host, paths, ok := parseSnapshotDesc(pt.Description)
		if !ok {
			return nil
		}
		i := slices.IndexFunc(sets, func(s *snapshotSet) bool { return s.host == host && slices.Equal(s.paths, paths) })
		if i < 0 {
			sets = append(sets, &snapshotSet{host: host, paths: paths})
			i = len(sets) - 1
		}
		if pt.ID == newest.ID {
			sets[0], sets[i] = sets[i], sets[0]
			i = 0
		}
		sets[i].points = append(sets[i].points, pt)
	}
	return sets
}

// splitBySource makes a restic drill whose repository holds the snapshots
// of several hosts or several sets of paths into one drill per set, each
// with the host and path filters that pick its own snapshots: one "latest"
// over all of them would drill whichever job ran last, and its checks,
// drawn from one job's snapshot, would fail the others'. d keeps the set
// of the snapshot its trial restored; the drills it returns are new, to be
// tried. A set no filter tells apart (its paths all in another set of the
// same host) gets no drill of its own, and a note.
func (p *Proposal) splitBySource(d *Drill) []*Drill {
	if d.Target.Kind != KindRestic || slices.ContainsFunc(d.Source, func(kv [2]string) bool { return kv[0] == "host" || kv[0] == "path" }) {
		return nil
	}
	sets := snapshotSets(d.Points, d.Newest)
	if len(sets) < 2 {
		return nil
	}
	hosts := map[string]int{}
	for _, s := range sets {
		hosts[s.host]++
	}
	base, orig := d.Name, d.Source
	var out []*Drill
	for i, s := range sets {
		src := slices.Clone(orig)
		var suffix []string
		if len(hosts) > 1 {
			src = append(src, [2]string{"host", s.host})
			suffix = append(suffix, s.host)
		}
		if hosts[s.host] > 1 {
			only := ownPath(s, sets)
			if only == "" {
				p.Notes = append(p.Notes, fmt.Sprintf("drill %s: the snapshots of %s:%s get no drill of their own: every one of their paths is in other snapshots of that host, and restic's path filter cannot tell them apart",
					base, s.host, strings.Join(s.paths, ",")))
				continue
			}
			src = append(src, [2]string{"path", only})
			suffix = append(suffix, path.Base(only))
		}
		name := cleanName(base + "-" + strings.Join(suffix, "-"))
		if i == 0 {
			delete(p.taken, d.Name)
			d.Name = uniqueName(name, p.taken)
			if p.service == "" {
				d.Service = d.Name
			}
			d.Source = src
			d.Newest = plugins.RestorePoint{}
			d.setPoints(s.points)
			d.Target.Note = splitNote(sets)
			continue
		}
		n := &Drill{Target: d.Target, Name: uniqueName(name, p.taken), Source: src, Service: d.Service}
		if p.service == "" {
			n.Service = n.Name
		}
		out = append(out, n)
	}
	return out
}

// ownPath returns a path of s that no other set of its host backs up,
// "" when there is none.
func ownPath(s *snapshotSet, sets []*snapshotSet) string {
	for _, p := range s.paths {
		shared := slices.ContainsFunc(sets, func(o *snapshotSet) bool {
			return o != s && o.host == s.host && slices.Contains(o.paths, p)
		})
		if !shared {
			return p
		}
	}
	return ""
}

func splitNote(sets []*snapshotSet) string {
	return fmt.Sprintf("the repository holds the snapshots of %d backup jobs (hosts and paths): a drill for each, with the host and path filters that pick its own snapshots", len(sets))
}

// onePath says whether the snapshot d's trial restored is of one path
// (its paths checks are relative to it), or is not a listed snapshot.
func onePath(d *Drill) bool {
	for _, pt := range d.Points {
		if pt.ID == d.Newest.ID {
			_, paths, ok := parseSnapshotDesc(pt.Description)
			return !ok || len(paths) == 1
		}
	}
	return true
}
