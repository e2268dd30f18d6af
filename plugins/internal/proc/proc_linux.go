package proc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel send sig to cmd's process when the
// process that started it dies (prctl PR_SET_PDEATHSIG). Call it before
// cmd starts. Client tools get SIGINT, on which they end their session
// cleanly (restic removes its lock, pg_restore cancels its query);
// plugins get SIGTERM.
func DieWithParent(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
}
