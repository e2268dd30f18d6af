//go:build unix

package restic

import "syscall"

const syscallNoFollow = syscall.O_NOFOLLOW
