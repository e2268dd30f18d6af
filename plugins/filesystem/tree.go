package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// refusal is an entry of the backup that the restore will not create
// because it would be unsafe. It becomes a Problem of kind fail.
type refusal struct {
	path string
	msg  string
}

func (r *refusal) Error() string { return r.msg }

func refuse(name, format string, args ...any) *refusal {
	return &refusal{path: name, msg: fmt.Sprintf(format, args...)}
}

// cleanName turns a member name from a backup into a clean, relative,
// slash-separated path ("." for the top directory), or refuses it.
func cleanName(name string) (string, *refusal) {
	switch {
	case name == "":
		return "", refuse(name, "an entry with an empty name was not restored")
	case strings.HasPrefix(name, "/"):
		return "", refuse(name, "%q was not restored: it has an absolute name", name)
	case hasDotDot(name):
		return "", refuse(name, "%q was not restored: its name has a \"..\" component", name)
	}
	return path.Clean(name), nil
}

// isLocalError reports whether err is a problem of the machine doing the
// restore (a full disk, an I/O error, no permission on the target) rather
// than of one entry of the backup. Such errors stop the restore.
func isLocalError(err error) bool {
	for _, e := range []syscall.Errno{
		syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS,
		syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EACCES, syscall.EPERM,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dirMeta is what an archive said about a directory, applied at the end.
type dirMeta struct {
	mode  fs.FileMode
	mtime time.Time
	set   bool // the archive had an entry for this directory
}

// tree creates entries below a restore target. Every path it creates goes
// through an os.Root on the target, so nothing can escape it, and it keeps
// track of the directories it made, so no entry is created through a
// symlink or a file from the backup even when the symlink stays inside.
// A tree is used from one goroutine.
type tree struct {
	root *os.Root
	// dirs are the directories this restore made, by clean relative path;
	// "." is the target itself.
	dirs map[string]*dirMeta
	// fds are open directories for creating files.
	fds dirCache
	// refused are links that were refused. Entries below them are refused
	// too rather than put in a directory of the same name: the backup
	// meant them to go wherever the link pointed.
	refused map[string]bool
}

func newTree(root *os.Root) *tree {
	return &tree{
		root:    root,
		dirs:    map[string]*dirMeta{".": {}},
		refused: map[string]bool{},
		fds:     dirCache{root: root, open: map[string]*os.File{}},
	}
}

// close releases the directories the tree keeps open.
func (t *tree) close() { t.fds.close() }

// dirCacheSize is how many directories a tree keeps open: archives list
// a directory's files together, so a few suffice.
const dirCacheSize = 16

// dirCache keeps a few directories of the target open, so that files are
// created in them without resolving their path again. Only directories the
// restore made are opened, and one that is removed is dropped.
type dirCache struct {
	root  *os.Root
	open  map[string]*os.File
	order []string // oldest first
}

func (c *dirCache) get(dir string) (*os.File, error) {
	if f, ok := c.open[dir]; ok {
		return f, nil
	}
	f, err := c.root.Open(dir)
	if err != nil {
		return nil, err
	}
	if len(c.order) == dirCacheSize {
		c.drop(c.order[0])
	}
	c.open[dir] = f
	c.order = append(c.order, dir)
	return f, nil
}

func (c *dirCache) drop(dir string) {
	f, ok := c.open[dir]
	if !ok {
		return
	}
	_ = f.Close()
	delete(c.open, dir)
	c.order = slices.DeleteFunc(c.order, func(d string) bool { return d == dir })
}

func (c *dirCache) close() {
	for _, f := range c.open {
		_ = f.Close()
	}
	clear(c.open)
	c.order = c.order[:0]
}

// ensureParent makes sure every component of name's parent is a directory
// this restore made, creating missing ones. A component that exists as
// anything else (a symlink or file from the backup) is a refusal.
func (t *tree) ensureParent(name string) error {
	parent := path.Dir(name)
	if len(t.refused) > 0 && parent != "." {
		for cur := range ancestors(parent) {
			if t.refused[cur] {
				return refuse(name, "%q was not restored: %q is a link that was refused", name, cur)
			}
		}
	}
	if _, ok := t.dirs[parent]; ok {
		return nil
	}
	for cur := range ancestors(parent) {
		if _, ok := t.dirs[cur]; ok {
			continue
		}
		err := t.root.Mkdir(cur, 0o755)
		if err == nil {
			t.dirs[cur] = &dirMeta{}
			continue
		}
		if errors.Is(err, fs.ErrExist) {
			what := "not a directory"
			if fi, lerr := t.root.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				what = "a symlink, not a directory"
			}
			return refuse(name, "%q was not restored: %q is %s (a restore never writes through one)", name, cur, what)
		}
		return err
	}
	return nil
}

// ancestors yields each leading part of the slash-separated path p,
// shortest first: a, a/b, a/b/c.
func ancestors(p string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i <= len(p); i++ {
			if (i == len(p) || p[i] == '/') && !yield(p[:i]) {
				return
			}
		}
	}
}

// clear removes an existing entry at name so that a later entry of the
// same name can replace it, as tar -x does. A directory that is not empty
// is a refusal.
func (t *tree) clear(name string) error {
	if name == "." {
		return refuse(name, "an entry named \".\" that is not a directory was not restored")
	}
	if err := t.root.Remove(name); err != nil {
		if _, isDir := t.dirs[name]; isDir {
			return refuse(name, "%q was not restored: a directory of that name was restored already and is not empty", name)
		}
		return err
	}
	delete(t.dirs, name)
	t.fds.drop(name)
	return nil
}

// create creates name by calling mk, first making its parents and, if an
// entry of that name exists already, replacing it.
func (t *tree) create(name string, mk func() error) error {
	if err := t.ensureParent(name); err != nil {
		return err
	}
	err := mk()
	if errors.Is(err, fs.ErrExist) {
		if err := t.clear(name); err != nil {
			return err
		}
		err = mk()
	}
	if err == nil {
		delete(t.refused, name)
	}
	return err
}

// createFile creates a new regular file for writing, with O_EXCL: it never
// opens an existing entry or follows a symlink. The caller sets its mode
// and mtime when it has written it.
func (t *tree) createFile(name string) (*outFile, error) {
	var f *outFile
	err := t.create(name, func() error {
		dir, err := t.fds.get(path.Dir(name))
		if err != nil {
			return err
		}
		f, err = createIn(t.root, dir, path.Base(name), name)
		return err
	})
	return f, err
}

// mkdir creates directory name; its mode and mtime are applied by finish.
// A directory that exists already just takes the new mode and mtime.
func (t *tree) mkdir(name string, mode fs.FileMode, mtime time.Time) error {
	if name == "." {
		return nil // the target belongs to the host: keep its mode and mtime
	}
	meta, ok := t.dirs[name]
	if !ok {
		err := t.create(name, func() error { return t.root.Mkdir(name, 0o700) })
		if err != nil {
			return err
		}
		meta = &dirMeta{}
		t.dirs[name] = meta
	}
	delete(t.refused, name)
	*meta = dirMeta{mode: mode & 0o777, mtime: mtime, set: true}
	return nil
}

// mkdirPlain creates directory name for a directory copy, whose parents
// are known to exist; its mode and mtime are applied by finish.
func (t *tree) mkdirPlain(name string, mode fs.FileMode, mtime time.Time) error {
	if err := t.root.Mkdir(name, 0o700); err != nil {
		return err
	}
	t.dirs[name] = &dirMeta{mode: mode & 0o777, mtime: mtime, set: true}
	return nil
}

// symlink creates a symlink at name with the target the backup gave it,
// whatever that is: a backup of /etc or of a home folder holds links to
// absolute paths and to places outside the backed-up folder, and tar -x,
// cp -a, rsync and restic recreate them as they are. Such a link is never
// followed: the restore writes nothing through a link (ensureParent), its
// files are created with O_NOFOLLOW, and the host checks the tree with
// Lstat. A symlink that cannot be created is remembered as refused, so
// entries below it are refused too rather than put where it stood.
func (t *tree) symlink(name, target string) error {
	if name == "." {
		return refuse(name, "a symlink named \".\" was not restored")
	}
	if target == "" {
		t.refused[name] = true
		return refuse(name, "symlink %q was not restored: its target is empty", name)
	}
	err := t.create(name, func() error { return t.root.Symlink(target, name) })
	if err != nil {
		t.refused[name] = true
	}
	return err
}

// link creates a hard link at name to target, a regular file this restore
// wrote already (both clean relative paths).
func (t *tree) link(name, target string) error {
	if name == target {
		return nil // a link to itself: the file is there already
	}
	if _, ok := t.dirs[path.Dir(target)]; !ok {
		t.refused[name] = true
		return refuse(name, "hard link %q -> %q was not restored: the target was not restored before it", name, target)
	}
	fi, err := t.root.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() {
		t.refused[name] = true
		return refuse(name, "hard link %q -> %q was not restored: the target is not a regular file restored before it", name, target)
	}
	return t.create(name, func() error { return t.root.Link(target, name) })
}

// finish applies the recorded mode and mtime of every directory, after
// all their contents have been written, deepest first so that a parent's
// restrictive mode does not lock the restore out of its children.
func (t *tree) finish() error {
	names := make([]string, 0, len(t.dirs))
	for name, m := range t.dirs {
		if m.set {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		di, dj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if di != dj {
			return di > dj
		}
		return names[i] < names[j]
	})
	var errs []error
	for _, name := range names {
		m := t.dirs[name]
		if err := t.root.Chmod(name, m.mode); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := t.root.Chtimes(name, time.Time{}, m.mtime); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
