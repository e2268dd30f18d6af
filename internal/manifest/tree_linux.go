package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"
	"unsafe"
)

// On Linux 5.6 and later files are opened with openat2 relative to the
// root, resolving no symlink in any element of the path (O_NOFOLLOW alone
// guards only the last one) and never leaving the tree. This holds even
// when a directory is swapped for a symlink while the tree is hashed, and
// for the paths a restorer hands to Pool.Add. Where openat2 is missing (or
// filtered by seccomp), files are opened by path with O_NOFOLLOW.

const (
	sysOpenat2          = 437 // the same number on every architecture
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
)

type openHow struct {
	Flags, Mode, Resolve uint64
}

var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := openat2(-100 /* AT_FDCWD */, "/", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	_ = syscall.Close(fd)
	return true
})

func openat2(dirfd int, name string, flags int, resolve uint64) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	how := openHow{Flags: uint64(flags), Resolve: resolve}
	for {
		fd, _, errno := syscall.Syscall6(sysOpenat2, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case syscall.EINTR, syscall.EAGAIN: // EAGAIN: a concurrent rename
			continue
		default:
			return -1, errno
		}
	}
}

// openTree opens root, which may be a symlink to a directory.
func openTree(root string) (*tree, error) {
	t := &tree{root: root, prefix: rootPrefix(root), fd: -1}
	if !haveOpenat2() {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, &fs.PathError{Op: "open", Path: root, Err: syscall.ENOTDIR}
		}
		return t, nil
	}
	fd, err := syscall.Open(root, rootFlags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	t.fd = fd
	return t, nil
}

const beneath = resolveBeneath | resolveNoSymlinks | resolveNoMagiclinks

// openFile opens the file at rel with fileFlags, and O_NOATIME while the
// kernel accepts it: reading a file for the first time after it was
// written (a restore just wrote every file) otherwise updates its access
// time under the default relatime, one inode written to the journal per
// file hashed. The kernel refuses O_NOATIME (EPERM) on a file the process
// neither owns nor has CAP_FOWNER for; from the first refusal on, the
// tree's files are opened without it.
func (t *tree) openFile(rel string) (int, error) {
	if t.fd < 0 {
		return sysOpen(t.prefix + rel)
	}
	flags := fileFlags
	if !t.atime.Load() {
		flags |= syscall.O_NOATIME
	}
	fd, err := openat2(t.fd, rel, flags, beneath)
	if errors.Is(err, syscall.EPERM) && flags != fileFlags {
		t.atime.Store(true)
		fd, err = openat2(t.fd, rel, fileFlags, beneath)
	}
	if errors.Is(err, syscall.ELOOP) && !t.dirSafe(path.Dir(rel)) {
		return -1, errThroughSymlink
	}
	return fd, err
}

// dirSafe reports whether the directory dir reaches no symlink.
func (t *tree) dirSafe(dir string) bool {
	fd, err := openat2(t.fd, dir, dirFlags, beneath)
	if err != nil {
		return false
	}
	_ = syscall.Close(fd)
	return true
}

// openDir opens the directory at rel ("" for the root) to list it.
func (t *tree) openDir(rel string) (*os.File, error) {
	if t.fd < 0 {
		if rel == "" {
			return os.OpenFile(t.root, rootFlags, 0)
		}
		return os.OpenFile(t.prefix+rel, dirFlags, 0)
	}
	name := rel
	if name == "" {
		name = "."
	}
	fd, err := openat2(t.fd, name, dirFlags, beneath)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			err = errThroughSymlink
		}
		return nil, &fs.PathError{Op: "open", Path: t.prefix + rel, Err: err}
	}
	return os.NewFile(uintptr(fd), t.prefix+rel), nil
}

func (t *tree) close() {
	if t.fd >= 0 {
		_ = syscall.Close(t.fd)
		t.fd = -1
	}
}
