// Package safefile opens the files a backup consists of (dumps, archives,
// reference manifests, password files) as regular files only, never
// following a symlink in the last component of their path. A backup is
// hostile input: a dump that is a symlink to /etc/shadow or to the drill's
// signing key must be refused, not read, restored and quoted in an error.
//
// Symlinks in the directories above the file are followed as usual: the
// operator chose those paths in the config.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular is wrapped by the errors of Open, ReadFile and Dir for a
// path that is a symlink, a directory, a FIFO, a socket or a device.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading as a regular file, without following a
// symlink in its last component and without blocking on a FIFO. what names
// the file in errors ("dump", "password file"). A symlink or anything but
// a regular file is an error wrapping ErrNotRegular that says what to do.
func Open(path, what string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, symlinkError(path, what)
		}
		return nil, &fs.PathError{Op: "open " + what, Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, &fs.PathError{Op: "stat " + what, Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, notRegularError(path, what, fi.Mode())
	}
	// O_NONBLOCK only kept a FIFO from blocking the open; reads of a
	// regular file never block, but clear it all the same.
	if err := syscall.SetNonblock(fd, false); err != nil {
		_ = f.Close()
		return nil, &fs.PathError{Op: "open " + what, Path: path, Err: err}
	}
	return f, nil
}

// ReadFile reads the regular file at path (see Open), at most max bytes;
// a longer file is an error, so a hostile "password file" of gigabytes
// cannot fill memory.
func ReadFile(path, what string, max int64) ([]byte, error) {
	f, err := Open(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s %s is larger than %d bytes; is it the right file?", what, path, max)
	}
	return b, nil
}

// Lstat returns the file info of path itself (a symlink is not followed)
// and an error wrapping ErrNotRegular unless it is a regular file.
func Lstat(path, what string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegularError(path, what, fi.Mode())
	}
	return fi, nil
}

// Dir checks that path is a directory, not a symlink to one, whose
// members are regular files or directories of the same kind, to depth
// levels below it (a directory-format dump: depth 0, its files only). A
// member that is a symlink, a FIFO, a device or deeper than depth is an
// error wrapping ErrNotRegular naming it.
func Dir(path, what string, depth int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return notRegularError(path, what, fi.Mode())
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		switch {
		case e.Type().IsRegular():
		case e.IsDir() && depth > 0:
			if err := Dir(p, what+" member", depth-1); err != nil {
				return err
			}
		default:
			return notRegularError(p, what+" member", e.Type())
		}
	}
	return nil
}

func symlinkError(path, what string) error {
	return fmt.Errorf("%s %s is a symlink: drill opens backup files only as regular files, never through a link (point the config at the file itself): %w", what, path, ErrNotRegular)
}

func notRegularError(path, what string, m fs.FileMode) error {
	if m&fs.ModeSymlink != 0 {
		return symlinkError(path, what)
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a directory, not a regular file"
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO, not a regular file"
	case m&fs.ModeSocket != 0:
		kind = "a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		kind = "a device, not a regular file"
	}
	return fmt.Errorf("%s %s is %s: %w", what, path, kind, ErrNotRegular)
}
