//go:build unix

package manifest

import (
	"errors"
	"syscall"
)

const (
	// fileFlags open a file to hash it: never through a final symlink,
	// never blocking on a fifo swapped in after the walk, never becoming
	// the controlling terminal.
	fileFlags = syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC
	// dirFlags open a directory below the root to list it.
	dirFlags = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	// rootFlags open the root, which may be a symlink to a directory.
	rootFlags = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_CLOEXEC
)

// The raw system calls below skip what os.File adds per file (a finalizer,
// the poller, fcntl calls), which costs more than hashing a small file.

func sysOpen(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, fileFlags, 0)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

// sysFstat reports whether fd is a regular file, and its size.
func sysFstat(fd int) (regular bool, size int64, err error) {
	var st syscall.Stat_t
	for {
		err = syscall.Fstat(fd, &st)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return false, 0, err
	}
	return uint32(st.Mode)&syscall.S_IFMT == syscall.S_IFREG, int64(st.Size), nil
}

func sysRead(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		if !errors.Is(err, syscall.EINTR) {
			if n < 0 {
				n = 0
			}
			return n, err
		}
	}
}

func sysClose(fd int) {
	_ = syscall.Close(fd) // nothing to lose: the file was only read
}
