package restic

import (
	"os/exec"
	"syscall"
)

// orphanSignal makes the kernel send restic SIGINT if the plugin process
// dies without stopping it (killed by the host after its grace period):
// restic then removes its lock instead of leaving a stale one.
func orphanSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
}
