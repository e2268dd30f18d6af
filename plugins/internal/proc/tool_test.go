//go:build linux

package proc

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sh is a Tool running script with sh.
func sh(script string, args ...string) *Tool {
	return &Tool{Path: "/bin/sh", Args: append([]string{"-c", script, "sh"}, args...), Grace: time.Second}
}

// A tool's end is classified: its exit status, a signal it got from
// elsewhere, or drill stopping it on ctx's end.
func TestToolExit(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script string
		exit   Exit
		code   int
		ok     bool
	}{
		{"status 0", "exit 0", Exited, 0, true},
		{"status 3", "exit 3", Exited, 3, false},
		{"killed by a signal drill did not send", "kill -KILL $$", Signaled, -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sh(tt.script).Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if res.Exit != tt.exit || res.Code != tt.code || res.OK() != tt.ok {
				t.Errorf("Exit %v, Code %d, OK %v; want %v, %d, %v", res.Exit, res.Code, res.OK(), tt.exit, tt.code, tt.ok)
			}
		})
	}
}

// A tool that cannot be started is Run's error, and IsNotFound says
// when its executable does not exist.
func TestToolNotFound(t *testing.T) {
	res, err := (&Tool{Path: filepath.Join(t.TempDir(), "no-such-tool")}).Run(t.Context())
	if err == nil || res != nil || !IsNotFound(err) {
		t.Errorf("Run = %v, %v; want a not-found error", res, err)
	}
}

// On ctx's end a tool that ignores SIGINT, and its child that does too,
// are killed after the grace period, and the run is Stopped.
func TestToolStopIgnoringSIGINT(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	tool := sh(`trap '' INT; sleep 1000 & echo started; wait`)
	tool.StdoutMax = 100
	start := time.Now()
	res, err := tool.Run(ctx)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != Stopped || res.OK() {
		t.Errorf("Exit %v, OK %v; want Stopped", res.Exit, res.OK())
	}
	if took < tool.Grace+200*time.Millisecond {
		t.Errorf("a tool that ignores SIGINT ended after %s, before the grace period of %s", took, tool.Grace)
	}
	if took > 20*time.Second {
		t.Errorf("the tool was not killed: Run took %s", took)
	}
	if string(res.Stdout) != "started\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}

// A tool that ends on SIGINT is not killed: it gets SIGINT at once and
// its trap runs.
func TestToolSIGINT(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	tool := sh(`trap 'echo interrupted; exit 7' INT; echo ready; while :; do sleep 0.05; done`)
	tool.Grace = time.Minute
	tool.Stdout = func(r io.Reader) {
		b := make([]byte, 6)
		if _, err := io.ReadFull(r, b); err == nil {
			cancel()
		}
		rest, _ := io.ReadAll(r)
		if !strings.Contains(string(rest), "interrupted") {
			t.Errorf("the tool's trap did not run: %q", rest)
		}
	}
	start := time.Now()
	res, err := tool.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != Stopped || res.Code != 7 {
		t.Errorf("Exit %v, Code %d; want Stopped with the trap's status 7", res.Exit, res.Code)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s: the tool waited for the grace period", took)
	}
}

// Only the first StderrMax bytes of stderr are kept; the tool still runs
// to its end.
func TestToolStderrCap(t *testing.T) {
	tool := sh(`i=0; while [ $i -lt 2000 ]; do echo 0123456789 >&2; i=$((i+1)); done; echo done`)
	tool.StderrMax = 25
	tool.StdoutMax = 100
	res, err := tool.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stderr) != "0123456789\n0123456789\n012" || string(res.Stdout) != "done\n" || !res.OK() {
		t.Errorf("stderr %q, stdout %q, OK %v", res.Stderr, res.Stdout, res.OK())
	}
}

// The secret reaches the tool through an inherited descriptor, after
// Files, and never in its arguments or environment; stdin is /dev/null.
func TestToolSecretAndStdin(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("from file 3\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	tool := sh(`cat /dev/fd/3; cat /dev/fd/4; cat; tr '\0' ' ' < /proc/$$/cmdline; echo; env`)
	tool.Files = []*os.File{f}
	tool.Secret = []byte("s3cret")
	tool.Env = []string{"A=b"}
	tool.StdoutMax = 10000
	res, err := tool.Run(t.Context())
	if err != nil || !res.OK() {
		t.Fatal(res, err)
	}
	out := string(res.Stdout)
	if !strings.HasPrefix(out, "from file 3\ns3cret\n") || strings.Count(out, "s3cret") != 1 {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(out, "A=b") || strings.Contains(out, "HOME=") {
		t.Errorf("the environment is not only Env: %q", out)
	}
}

// Feed writes stdin; when it fails, the tool is stopped and its error
// returned.
func TestToolFeed(t *testing.T) {
	tool := sh(`wc -c`)
	tool.StdoutMax = 100
	tool.Feed = func(w io.Writer) error { _, err := io.WriteString(w, "12345"); return err }
	res, err := tool.Run(t.Context())
	if err != nil || !res.OK() || strings.TrimSpace(string(res.Stdout)) != "5" || res.Feed != nil {
		t.Errorf("Run = %+v, %v", res, err)
	}

	bad := errors.New("dump broken")
	tool = sh(`trap 'exit 9' INT; cat >/dev/null; sleep 1000`)
	tool.Feed = func(w io.Writer) error { _, _ = io.WriteString(w, "x"); time.Sleep(100 * time.Millisecond); return bad }
	res, err = tool.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Feed, bad) || res.OK() {
		t.Errorf("Feed %v, OK %v; want the feed's error and a stopped tool", res.Feed, res.OK())
	}
}

// Excerpt escapes and clips what a tool said.
func TestExcerpt(t *testing.T) {
	got := Excerpt([]string{"a\x1b[2Jb", "second", "third"}, 2, 12)
	if strings.ContainsRune(got, 0x1b) || !strings.HasSuffix(got, "…") || len(got) > 12+len("…") {
		t.Errorf("Excerpt = %q", got)
	}
}

// A tool that exits while a child it started holds its output open ends
// the run: the child is killed with the rest of the group, and the output
// read to its end.
func TestToolLeftoverHoldsOutput(t *testing.T) {
	tool := sh(`sleep 1000 & echo out; echo err >&2`)
	tool.Grace = time.Minute
	var out, errOut []byte
	tool.Stdout = func(r io.Reader) { out, _ = io.ReadAll(r) }
	tool.Stderr = func(r io.Reader) { errOut, _ = io.ReadAll(r) }
	done := make(chan struct{})
	var res *Result
	go func() {
		defer close(done)
		res, _ = tool.Run(t.Context())
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run waits for the child that holds the tool's output")
	}
	if res == nil || !res.OK() || string(out) != "out\n" || string(errOut) != "err\n" {
		t.Errorf("Run = %+v; stdout %q, stderr %q", res, out, errOut)
	}
}
