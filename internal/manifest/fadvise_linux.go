//go:build linux && (amd64 || arm64)

package manifest

import "syscall"

const fadvSequential = 2 // POSIX_FADV_SEQUENTIAL

// adviseSequential tells the kernel that fd is read from start to end, so
// it reads ahead further on a cold cache. It is only a hint.
func adviseSequential(fd int) {
	_, _, _ = syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(fd), 0, 0, fadvSequential, 0, 0)
}
