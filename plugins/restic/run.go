package restic

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/drillhq/drill/plugins/internal/proc"
)

// restic's exit codes (restic 0.17 and newer).
const (
	exitNoRepository   = 10
	exitLockFailed     = 11
	exitWrongPassword  = 12
	exitInterrupted    = 130
	stopGrace          = 30 * time.Second
	progressFPS        = "2"
	maxStderrTextLines = 20
	maxErrors          = 1000
	// besideNice is the nice value of a restic ls run beside a restore:
	// about a tenth of the restore's CPU weight when both want a core.
	besideNice = 10
)

// invocation is one run of restic.
type invocation struct {
	binary   string
	repo     string
	password []byte // nil with insecure_no_password or password_command
	pwCmd    string
	noPass   bool
	args     []string
	// extraEnv is NAME=value for the repository's backend (from env).
	extraEnv []string
	// onRead, when set, gets the bytes restic has read so far, each
	// second they grew: work that prints nothing (restic check) still
	// shows as progress to the host's stall detector.
	onRead func(n int64)
	// onStdout receives each line of stdout as it comes; nil buffers it.
	onStdout func(line []byte)
	// onStderr, when set, receives each message of stderr as it comes.
	onStderr func(m Message)
	// nice, when above 0, lowers restic's CPU priority by that much: a
	// restic ls beside a restore uses the CPU the restore leaves idle.
	nice int
}

// result is what one run of restic said.
type result struct {
	code     int
	stdout   []byte // when onStdout is nil
	lines    int    // lines of stdout
	errors   []Message
	exitErr  *Message
	text     []string // non-JSON stderr lines
	waitErr  error
	signaled bool
}

// env is restic's environment: the plugin's own (which drill reduced to
// PATH, TMPDIR, TZ and the locale) without any RESTIC_* variable, plus the
// repository and a low progress rate.
func (inv *invocation) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTIC_") {
			env = append(env, kv)
		}
	}
	if _, ok := os.LookupEnv("HOME"); !ok {
		env = append(env, "HOME="+os.TempDir())
	}
	env = append(env, "RESTIC_REPOSITORY="+inv.repo, "RESTIC_PROGRESS_FPS="+progressFPS)
	if inv.pwCmd != "" {
		env = append(env, "RESTIC_PASSWORD_COMMAND="+inv.pwCmd)
	}
	return append(env, inv.extraEnv...)
}

// run runs restic and waits for it (proc.Tool): on ctx's end restic and
// everything it started get SIGINT, so restic removes its lock, and are
// killed only after a grace period. The password reaches restic through an
// inherited pipe (--password-file /dev/fd/3): never an argument, never the
// environment.
func (inv *invocation) run(ctx context.Context) *result {
	args := append([]string{"--json", "--no-cache"}, inv.args...)
	if inv.password != nil {
		args = append([]string{"--password-file", "/dev/fd/3"}, args...)
	} else if inv.noPass {
		args = append([]string{"--insecure-no-password"}, args...)
	}
	res := &result{}
	var stdout []byte
	tool := &proc.Tool{
		Path:   inv.binary,
		Args:   args,
		Env:    inv.env(),
		Secret: inv.password,
		Grace:  stopGrace,
		Stdout: func(r io.Reader) { stdout, res.lines = inv.readStdout(r) },
		Stderr: func(r io.Reader) { inv.readStderr(r, res) },
	}
	if inv.onRead != nil || inv.nice > 0 {
		tool.Started = func(pid int) func() {
			if inv.nice > 0 {
				lowerPriority(pid, inv.nice)
			}
			if inv.onRead == nil {
				return nil
			}
			return watchReads(pid, inv.onRead)
		}
	}
	pr, err := tool.Run(ctx)
	switch {
	case proc.IsNotFound(err):
		return &result{code: -1, waitErr: fmt.Errorf("restic executable %q not found: install restic or set restic_binary in the drill's source", inv.binary)}
	case err != nil:
		return &result{code: -1, waitErr: fmt.Errorf("start %s: %w", inv.binary, err)}
	}
	res.stdout, res.code, res.waitErr = stdout, pr.Code, pr.Err
	res.signaled = pr.Exit == proc.Signaled || pr.Code == -1
	return res
}

// readStdout reads restic's stdout, line by line to onStdout, or into a
// buffer it returns, and counts its lines.
func (inv *invocation) readStdout(r io.Reader) ([]byte, int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var buf []byte
	n := 0
	for sc.Scan() {
		n++
		if inv.onStdout != nil {
			inv.onStdout(sc.Bytes())
		} else {
			buf = append(buf, sc.Bytes()...)
			buf = append(buf, '\n')
		}
	}
	return buf, n
}

// readStderr reads restic's messages into res, each to onStderr too.
func (inv *invocation) readStderr(r io.Reader, res *result) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		m := parseMessage(sc.Bytes())
		if inv.onStderr != nil {
			inv.onStderr(m)
		}
		switch m.Kind {
		case "error":
			// Enough to report; a million damaged files must not fill
			// the plugin's memory.
			if len(res.errors) < maxErrors {
				res.errors = append(res.errors, m)
			}
		case "exit_error":
			mm := m
			res.exitErr = &mm
		case "text":
			if m.Text != "" && len(res.text) < maxStderrTextLines {
				res.text = append(res.text, m.Text)
			}
		}
	}
}

// message is the most telling thing restic said, on one line: its
// exit_error, else its first error, else its first text line.
func (r *result) message() string {
	switch {
	case r.exitErr != nil && r.exitErr.Text != "":
		return oneLine(r.exitErr.Text)
	case len(r.errors) > 0:
		return oneLine(r.errors[0].Text)
	case len(r.text) > 0:
		return r.text[0]
	case r.waitErr != nil:
		return r.waitErr.Error()
	}
	return fmt.Sprintf("exit code %d", r.code)
}

// oneLine joins the lines of a multi-line message with "; ".
func oneLine(s string) string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
