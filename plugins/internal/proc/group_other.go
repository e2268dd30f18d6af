//go:build !unix

package proc

import (
	"os/exec"
	"time"
)

// Group is a client tool; without process groups, stopping it stops only
// the tool itself.
type Group struct{ cmd *exec.Cmd }

// NewGroup sets cmd's WaitDelay; cmd is killed when its context ends.
func NewGroup(cmd *exec.Cmd, grace time.Duration) *Group {
	cmd.WaitDelay = grace
	return &Group{cmd: cmd}
}

// Wait waits for cmd.
func (g *Group) Wait() error { return g.cmd.Wait() }

// Run starts cmd and waits for it.
func (g *Group) Run() error { return g.cmd.Run() }
