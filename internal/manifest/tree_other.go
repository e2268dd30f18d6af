//go:build !linux

package manifest

import (
	"io/fs"
	"os"
	"syscall"
)

// Without openat2, files are opened by path with O_NOFOLLOW, which guards
// the last element of the path; the walker never descends into a symlink.

// openTree checks that root (which may be a symlink) is a directory.
func openTree(root string) (*tree, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: root, Err: syscall.ENOTDIR}
	}
	return &tree{root: root, prefix: rootPrefix(root), fd: -1}, nil
}

func (t *tree) openFile(rel string) (int, error) { return sysOpen(t.prefix + rel) }

func (t *tree) openDir(rel string) (*os.File, error) {
	if rel == "" {
		return os.OpenFile(t.root, rootFlags, 0)
	}
	return os.OpenFile(t.prefix+rel, dirFlags, 0)
}

func (t *tree) close() {}
