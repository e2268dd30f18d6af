//go:build !linux

package filesystem

import (
	"io/fs"
	"os"
	"time"
)

// outFile is a regular file being written by a restore. Elsewhere than on
// Linux it is an os.File opened through the restore's os.Root.
type outFile struct {
	*os.File
	root *os.Root
	name string
}

// createIn creates name (base in the directory dir, which this restore
// made) through root.
func createIn(root *os.Root, dir *os.File, base, name string) (*outFile, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &outFile{File: f, root: root, name: name}, nil
}

// finish sets the file's mode and mtime and closes it.
func (o *outFile) finish(mode fs.FileMode, mtime time.Time) error {
	if err := o.File.Chmod(mode.Perm()); err != nil {
		o.File.Close()
		return err
	}
	if err := o.File.Close(); err != nil {
		return err
	}
	return o.root.Chtimes(o.name, time.Time{}, mtime)
}

// abort closes the file.
func (o *outFile) abort() { o.File.Close() }

// openIn opens name (base in the directory dir) through root for reading.
func openIn(root *os.Root, dir *os.File, base, name string) (*os.File, error) {
	return root.Open(name)
}
