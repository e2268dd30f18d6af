//go:build linux

package proc

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// toolScript stands in for a client tool. It starts a child that ignores
// SIGINT and sleeps, as a hung password_command would; the child writes
// the tool's PID and its own to $1 once it ignores SIGINT. Then the tool,
// as $2 says, exits once the child has written them ("exit"), waits for
// the child, which SIGINT ends ("wait"), or traps SIGINT, logging each to
// $3, and waits on ("trap").
const toolScript = `#!/bin/sh
[ "$2" = trap ] && trap 'echo INT >> "$3"' INT
sh -c 'trap "" INT; echo "$PPID $$" > "$0"; exec sleep 1000' "$1" &
case "$2" in
exit) until [ -s "$1" ]; do sleep 0.01; done; exit 0 ;;
trap) while :; do wait; done ;;
*) wait ;;
esac
`

// alive reports whether pid is a process that has not exited: a zombie
// (dead, not yet reaped by its new parent) counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// waitGone waits up to 5 s for pid to be gone.
func waitGone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return false
}

// How the tool's stdout is taken: not at all, copied by exec into a
// buffer, or read from a pipe to its end before Wait (as the restic
// backend does). The child holds it open too.
const (
	noStdout = iota
	bufferStdout
	pipeStdout
)

// start runs the script in a Group in mode, and returns the tool's PID and
// its child's, once the tool has written them, the log file, and the
// result of the Group's Wait.
func start(t *testing.T, ctx context.Context, mode string, stdout int, grace time.Duration) (tool, child int, log string, done <-chan error) {
	t.Helper()
	dir := t.TempDir()
	script, pids := filepath.Join(dir, "tool"), filepath.Join(dir, "pids")
	log = filepath.Join(dir, "log")
	if err := os.WriteFile(script, []byte(toolScript), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, script, pids, mode, log)
	var pipe io.Reader
	switch stdout {
	case bufferStdout:
		cmd.Stdout = &bytes.Buffer{}
	case pipeStdout:
		var err error
		if pipe, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	}
	g := NewGroup(cmd, grace)
	DieWithParent(cmd, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		if pipe != nil {
			_, _ = io.Copy(io.Discard, pipe)
		}
		ch <- g.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(pids)
		if f := strings.Fields(string(b)); len(f) == 2 && strings.HasSuffix(string(b), "\n") {
			tool, _ = strconv.Atoi(f[0])
			child, _ = strconv.Atoi(f[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tool did not start its child")
		}
	}
	t.Cleanup(func() {
		// Whatever the test found, leave nothing running.
		_ = syscall.Kill(child, syscall.SIGKILL)
		_ = syscall.Kill(tool, syscall.SIGKILL)
	})
	if pgid, err := syscall.Getpgid(child); err != nil || pgid != tool {
		t.Fatalf("the child's process group is %d (%v), want the tool's own, %d", pgid, err, tool)
	}
	return tool, child, log, ch
}

// Cancelling a tool's context stops its whole process group: SIGINT
// first, to every member, and SIGKILL after the grace period to what is
// left, here a child that ignores SIGINT.
func TestGroupCancel(t *testing.T) {
	const grace = time.Second
	tests := []struct {
		name   string
		mode   string
		stdout int
	}{
		{"the tool stops on SIGINT, its child does not", "wait", noStdout},
		{"the child holds the stdout exec copies", "wait", bufferStdout},
		{"neither stops on SIGINT", "trap", noStdout},
		{"neither stops on SIGINT, and the child holds the stdout read before Wait", "trap", pipeStdout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			tool, child, log, done := start(t, ctx, tt.mode, tt.stdout, grace)
			cancel()
			cancelled := time.Now()
			select {
			case err := <-done:
				_ = err // a tool killed by signal exits non-zero
			case <-time.After(grace + 20*time.Second):
				t.Fatal("Wait did not return after the grace period")
			}
			took := time.Since(cancelled)
			if !waitGone(child) {
				t.Errorf("the child %d that ignores SIGINT is still running after Wait", child)
			}
			if !waitGone(tool) {
				t.Errorf("the tool %d is still running after Wait", tool)
			}
			if tt.mode == "trap" {
				if b, _ := os.ReadFile(log); !strings.Contains(string(b), "INT") {
					t.Errorf("the tool got no SIGINT before it was killed (log %q)", b)
				}
				if took < grace*9/10 {
					t.Errorf("a tool that ignores SIGINT was killed after %s, before the grace period of %s", took, grace)
				}
			}
		})
	}
}

// A tool that exits leaves nothing behind in its process group.
func TestGroupExitKillsLeftovers(t *testing.T) {
	_, child, _, done := start(t, t.Context(), "exit", noStdout, time.Minute)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wait did not return")
	}
	if !waitGone(child) {
		t.Errorf("the child %d the tool left behind is still running", child)
	}
}
