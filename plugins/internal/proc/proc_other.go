//go:build !linux

package proc

import (
	"os/exec"
	"syscall"
)

// DieWithParent does nothing where the kernel cannot signal an orphan.
func DieWithParent(*exec.Cmd, syscall.Signal) {}
