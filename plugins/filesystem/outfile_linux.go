package filesystem

import (
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// outFile is a regular file being written by a restore. On Linux it is a
// bare descriptor created with openat in a cached descriptor of its
// parent directory: the parent is a directory the restore made, and the
// name is one component opened with O_EXCL|O_NOFOLLOW, so nothing is
// resolved again and nothing can be followed. This saves about ten system
// calls a file over the path-based os.Root calls, which shows on trees of
// many small files.
type outFile struct {
	fd   int
	name string
}

// createIn creates base in the directory dir (an open descriptor of a
// directory this restore made, below root). name is base's path below the
// target, for errors.
func createIn(root *os.Root, dir *os.File, base, name string) (*outFile, error) {
	for {
		fd, err := syscall.Openat(int(dir.Fd()), base,
			syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "create", Path: name, Err: err}
		}
		return &outFile{fd: fd, name: name}, nil
	}
}

// Write writes all of p.
func (o *outFile) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(o.fd, p[done:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, &fs.PathError{Op: "write", Path: o.name, Err: err}
		}
		if n == 0 {
			return done, &fs.PathError{Op: "write", Path: o.name, Err: io.ErrShortWrite}
		}
		done += n
	}
	return done, nil
}

// finish sets the file's mode and mtime and closes it.
func (o *outFile) finish(mode fs.FileMode, mtime time.Time) error {
	defer o.abort()
	if err := syscall.Fchmod(o.fd, uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: o.name, Err: err}
	}
	const utimeOmit = (1 << 30) - 2 // leave atime as it is
	ts := [2]syscall.Timespec{{Nsec: utimeOmit}, syscall.NsecToTimespec(mtime.UnixNano())}
	// utimensat(fd, NULL, ts, 0) is futimens(fd, ts).
	if _, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(o.fd), 0,
		uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); errno != 0 {
		return &fs.PathError{Op: "utimensat", Path: o.name, Err: errno}
	}
	fd := o.fd
	o.fd = -1
	if err := syscall.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: o.name, Err: err}
	}
	return nil
}

// abort closes the file if it is open.
func (o *outFile) abort() {
	if o.fd >= 0 {
		_ = syscall.Close(o.fd)
		o.fd = -1
	}
}

// openIn opens base in the directory dir (an open descriptor of a
// directory below root) for reading, never following a symlink and never
// blocking on a FIFO. name is base's path below root, for errors.
func openIn(root *os.Root, dir *os.File, base, name string) (*os.File, error) {
	for {
		fd, err := syscall.Openat(int(dir.Fd()), base,
			syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}
