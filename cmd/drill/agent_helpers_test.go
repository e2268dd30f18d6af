package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins/plugintest"
)

// testPlugins is the test backend plugin, built once per test binary.
var testPlugins struct {
	once      sync.Once
	ok, okSum string
}

// agentConfig is a config for an agent test in dir: state and socket in
// dir, one service s, the test plugin as backend t, and drills (YAML
// lines under drills:).
// extra goes at the top level.
func agentConfig(t *testing.T, dir, extra, drills string) string {
	t.Helper()
	p := &testPlugins
	p.once.Do(func() {
		const pkg = "github.com/drillhq/drill/plugins/internal/testplugin"
		// Copied out of this test's temporary folder, for later tests.
		keep := func(path, name string) string {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(filepath.Dir(drillBin), name)
			if err := os.WriteFile(out, b, 0o755); err != nil {
				t.Fatal(err)
			}
			return out
		}
		path, sum := plugintest.Build(t, pkg)
		p.ok, p.okSum = keep(path, "testplugin"), sum
	})
	cfg := fmt.Sprintf(`state_dir: %s/state
socket: %s/drill.sock
stop_timeout: 20s
%s
services: {s: {owner: ops@example.org}}
plugins:
  t: {path: %s, sha256: %s}
drills:
%s`, dir, dir, extra, p.ok, p.okSum, drills)
	path := filepath.Join(dir, "drill.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentProc is a real `drill agent` process.
type agentProc struct {
	t      *testing.T
	cfg    string
	socket string
	cmd    *exec.Cmd
	stderr *syncBuffer
	notify *net.UnixConn
	notes  chan string
	ready  string // the READY=1 notification
	done   chan struct{}
	code   int
}

// startAgent starts `drill agent -c cfg` with a NOTIFY_SOCKET of its own,
// as systemd would, and waits for READY=1. The agent is killed when the
// test ends, if it still runs.
func startAgent(t *testing.T, cfg string) *agentProc {
	t.Helper()
	a := launchAgent(t, cfg)
	var err error
	if a.ready, err = a.waitNote("READY=1", 30*time.Second); err != nil {
		t.Fatalf("agent not ready: %v\nstderr:\n%s", err, a.stderr)
	}
	return a
}

// launchAgent starts the agent without waiting for it.
func launchAgent(t *testing.T, cfg string) *agentProc {
	t.Helper()
	dir := filepath.Dir(cfg)
	a := &agentProc{t: t, cfg: cfg, socket: filepath.Join(dir, "drill.sock"), stderr: &syncBuffer{},
		notes: make(chan string, 100), done: make(chan struct{})}
	// A short path: unix socket names are limited to 108 bytes.
	nd, err := os.MkdirTemp("", "drill-notify-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(nd) })
	addr := &net.UnixAddr{Name: filepath.Join(nd, "n"), Net: "unixgram"}
	a.notify, err = net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := a.notify.Read(buf)
			if err != nil {
				close(a.notes)
				return
			}
			a.notes <- string(buf[:n])
		}
	}()
	a.cmd = exec.Command(drillBin, "-c", cfg, "agent", "--log-format", "json")
	a.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+addr.Name, "WATCHDOG_USEC=2000000", "DRILL_CONFIG=")
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := a.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			a.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				a.code = -int(ws.Signal())
			}
		}
		close(a.done)
	}()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			_ = a.cmd.Process.Kill()
			<-a.done
		}
		_ = a.notify.Close()
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.stderr)
		}
	})
	return a
}

// must stops the test at a failed step of its setup.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitNote waits for a notification holding want and returns it.
func (a *agentProc) waitNote(want string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case n, ok := <-a.notes:
			if !ok {
				return "", errors.New("notify socket closed")
			}
			if strings.Contains(n, want) {
				return n, nil
			}
		case <-a.done:
			return "", fmt.Errorf("agent exited with code %d", a.code)
		case <-deadline:
			return "", fmt.Errorf("no %q within %s", want, timeout)
		}
	}
}

// stop sends sig and returns the exit code.
func (a *agentProc) stop(sig syscall.Signal, timeout time.Duration) int {
	a.t.Helper()
	_ = a.cmd.Process.Signal(sig) // it may have exited already: a.done says
	select {
	case <-a.done:
		return a.code
	case <-time.After(timeout):
		a.t.Fatalf("agent did not exit within %s of %v\nstderr:\n%s", timeout, sig, a.stderr)
		return 0
	}
}

func (a *agentProc) client() *agent.Client {
	a.t.Helper()
	c, _, err := agent.Dial(context.Background(), a.socket)
	if err != nil {
		a.t.Fatalf("dial the agent: %v", err)
	}
	return c
}

func (a *agentProc) health() agent.Health {
	a.t.Helper()
	_, h, err := agent.Dial(context.Background(), a.socket)
	if err != nil {
		a.t.Fatalf("agent health: %v", err)
	}
	return *h
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drillCmd runs the drill binary with the config and returns stdout,
// stderr and the exit code.
func drillCmd(t *testing.T, cfg string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(drillBin, append([]string{"-c", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "DRILL_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// history returns the records of drill (all when ""), newest first, read
// with `drill history --json`.
func history(t *testing.T, cfg, drill string) []record.Record {
	t.Helper()
	args := []string{"history", "--json"}
	if drill != "" {
		args = append(args, drill)
	}
	out, errs, code := drillCmd(t, cfg, args...)
	if code != 0 {
		t.Fatalf("drill history: exit %d: %s", code, errs)
	}
	var recs []record.Record
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var r record.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("history line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// metricsText fetches the agent's metrics.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// freePort returns a free 127.0.0.1 port.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
