//go:build !linux

package restic

import "os/exec"

// orphanSignal does nothing where the kernel cannot signal an orphan.
func orphanSignal(*exec.Cmd) {}
