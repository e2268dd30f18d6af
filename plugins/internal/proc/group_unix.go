//go:build unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Group is a client tool run as the leader of a process group of its own,
// so that stopping it stops everything it started: the password_command
// restic runs, a shell and whatever that shell started. Without the group
// such a grandchild outlives the tool, and one that holds the tool's
// stdout or stderr open keeps the plugin waiting for their end forever.
type Group struct {
	cmd   *exec.Cmd
	grace time.Duration

	mu     sync.Mutex
	kill   *time.Timer // armed by the first interrupt
	waited bool        // the leader has been waited for
}

// NewGroup prepares cmd, before it starts, to run in a process group of
// its own, and sets its Cancel and WaitDelay: when cmd's context ends, the
// whole group gets SIGINT at once (restic removes its lock, pg_restore
// and mariadb end their session), and SIGKILL after grace if anything in
// it is still running. Wait for cmd with the Group's Wait or Run, not
// cmd's own, so that what the tool leaves in its group is killed too.
//
// DieWithParent still applies to the leader: it gets its signal when the
// plugin dies.
func NewGroup(cmd *exec.Cmd, grace time.Duration) *Group {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	g := &Group{cmd: cmd, grace: grace}
	cmd.Cancel = g.interrupt
	// exec kills the leader and closes the pipes it copies after
	// WaitDelay; the group timer kills the rest at the same time.
	cmd.WaitDelay = grace
	return g
}

// interrupt is cmd.Cancel: SIGINT to the group now, SIGKILL after grace.
func (g *Group) interrupt() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waited {
		return os.ErrProcessDone
	}
	if g.kill == nil {
		g.kill = time.AfterFunc(g.grace, g.killGroup)
	}
	if err := syscall.Kill(-g.cmd.Process.Pid, syscall.SIGINT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// killGroup sends SIGKILL to the group, unless Wait is done with it.
func (g *Group) killGroup() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.waited {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Wait waits for cmd as cmd.Wait does, then kills whatever is left in its
// process group: a tool that exited or was stopped leaves nothing behind.
func (g *Group) Wait() error {
	err := g.cmd.Wait()
	if g.cmd.Process == nil {
		return err // it never started
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waited = true
	if g.kill != nil {
		g.kill.Stop()
	}
	// The leader is reaped, but its process group ID cannot be reused
	// while any member is left; with none left this finds nothing.
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	return err
}

// Run starts cmd and waits for it with Wait.
func (g *Group) Run() error {
	if err := g.cmd.Start(); err != nil {
		return err
	}
	return g.Wait()
}
