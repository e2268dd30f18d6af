package filesystem

import "strings"

// A drill's manifest and paths entries are relative to the restore point's
// Root (plugins.RestorePoint.Root). tar and rsync keep the folder they
// were given: `tar -czf x.tgz /srv/files` stores srv/files/a,
// `cd /srv && tar -czf x.tgz files` stores files/a, and
// `rsync -a /srv/files /backups/daily/` makes daily/files/a, while a
// manifest made the usual way, in /srv/files, lists "a". The backup does
// not say which folder was backed up, so Root is the deepest folder
// reached from the top through folders that each hold exactly one entry,
// itself a real folder: the top holding one folder is a wrapper, not
// data. A backed-up folder that itself holds a single folder is taken one
// level too deep; the host then finds entries from the folders above Root
// (drills.resolveFound).

// rootChain finds a Root from the names of a restore's entries, seen in
// any order: those of the whole backup, so that a sampled restore, which
// writes one slice of it, gets the Root of the whole.
type rootChain struct {
	// elems is the Root so far, by name.
	elems []string
	// capped: a file or a second entry was seen directly in elems, so it
	// can only get shorter.
	capped bool
	// below is elems joined, with a trailing "/": once capped, most names
	// start with it and change nothing.
	below string
}

// add notes one entry: name is clean, "/"-separated and relative to the
// top ("." is the top itself); dir says it is a real folder (a symlink to
// one is not).
func (c *rootChain) add(name string, dir bool) {
	if name == "." || c.capped && (len(c.elems) == 0 || strings.HasPrefix(name, c.below)) {
		return
	}
	defer func() { c.below = c.root() + "/" }()
	elems := strings.Split(name, "/")
	k := 0
	for k < len(c.elems) && k < len(elems) && c.elems[k] == elems[k] {
		k++
	}
	switch {
	case k < len(c.elems) && k < len(elems): // a second entry where they part
		c.elems, c.capped = c.elems[:k], true
	case k < len(c.elems): // a folder on the way, or a file replacing one
		if !dir {
			c.elems, c.capped = elems[:k-1], true
		}
	case c.capped: // below Root: no change
	case dir:
		c.elems = elems
	default:
		c.elems, c.capped = elems[:len(elems)-1], true
	}
}

// root is the Root: "srv/files", or "" for the top.
func (c *rootChain) root() string { return strings.Join(c.elems, "/") }
