package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drillhq/drill/internal/textsafe"
)

// DefaultStderrMax is how much of a tool's stderr Run keeps when the Tool
// sets neither Stderr nor StderrMax.
const DefaultStderrMax = 64 << 10

// Tool is one run of a client tool (restic, pg_restore, mariadb, and the
// backends to come), in the one shape every built-in backend uses: the
// tool leads a process group of its own (Group), its stdin is /dev/null
// unless the Tool feeds it, it gets SIGINT when the plugin dies
// (DieWithParent), and when ctx ends the whole group gets SIGINT, so the
// tool can end its session or remove its lock, and SIGKILL after Grace.
//
// A secret reaches a tool only through a descriptor it inherits (Secret,
// Files) or a file it names in its environment (a pgpass or option file
// the caller writes and removes): never an argument, which other users
// of the host can read.
type Tool struct {
	Path string
	Args []string
	// Env is the tool's whole environment; nil is an empty one, never
	// the plugin's.
	Env []string
	Dir string
	// Files are inherited as descriptors 3, 4, ...
	Files []*os.File
	// Secret, when not nil, is written with a newline into a pipe the
	// tool inherits as the descriptor after Files (3 without Files):
	// restic reads it with --password-file /dev/fd/3.
	Secret []byte
	// Stdin is the tool's stdin; nil is /dev/null, so that no tool waits
	// for a password.
	Stdin io.Reader
	// Feed, when set, writes the tool's stdin (instead of Stdin) while it
	// runs; the pipe is closed when Feed returns. When Feed fails, the
	// tool is stopped as on ctx's end, and Result.Feed holds its error.
	Feed func(w io.Writer) error
	// Stdout, when set, reads the tool's stdout as it comes; what it
	// leaves unread is drained, so the tool is never blocked writing.
	// Without it, the first StdoutMax bytes are kept in Result.Stdout
	// (none when 0: stdout is /dev/null).
	Stdout    func(r io.Reader)
	StdoutMax int
	// Stderr, when set, reads the tool's stderr as it comes, as Stdout.
	// Without it the first StderrMax bytes (DefaultStderrMax when 0) are
	// kept in Result.Stderr: a chatty tool cannot fill the plugin's
	// memory.
	Stderr    func(r io.Reader)
	StderrMax int
	// Grace is how long the tool has after SIGINT before SIGKILL.
	Grace time.Duration
	// Started, when set, is called with the tool's PID once it runs; the
	// function it returns, if any, is called when the tool has ended
	// (restic follows the bytes the tool reads).
	Started func(pid int) (stop func())
}

// Exit is how a tool's run ended.
type Exit int

const (
	// Exited: the tool exited by itself; Result.Code is its status.
	Exited Exit = iota
	// Signaled: a signal drill did not send ended the tool.
	Signaled
	// Stopped: ctx ended before the tool did, and drill stopped it
	// (SIGINT, then SIGKILL after the grace period).
	Stopped
)

// Result is what one run of a tool said and how it ended.
type Result struct {
	Exit Exit
	// Code is the exit status; -1 when a signal ended the tool.
	Code int
	// Err is the wait's error: an *exec.ExitError for a status other
	// than 0, exec.ErrWaitDelay when the tool exited but something it
	// started kept its output open past the grace period.
	Err error
	// Stdout and Stderr are what was kept of them (see Tool).
	Stdout, Stderr []byte
	// Feed is the error of the Tool's Feed.
	Feed error
}

// OK reports whether the tool exited by itself with status 0 and left
// nothing holding its output.
func (r *Result) OK() bool { return r.Exit == Exited && r.Code == 0 && r.Err == nil }

// IsNotFound reports whether Run's error says the tool's executable does
// not exist: the operator has to install it or name another.
func IsNotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// Run runs the tool and waits for it and everything reading its output.
// Its error is only for a tool that could not be started (see
// IsNotFound); how a started tool ended is in the Result.
func (t *Tool) Run(ctx context.Context) (*Result, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, t.Path, t.Args...)
	cmd.Env = t.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // not the plugin's environment
	}
	cmd.Dir = t.Dir
	cmd.Stdin = t.Stdin
	cmd.ExtraFiles = append([]*os.File(nil), t.Files...)
	group := NewGroup(cmd, t.Grace)
	DieWithParent(cmd, syscall.SIGINT)
	p, err := t.plumb(cmd)
	if err == nil {
		err = cmd.Start()
	}
	p.closeChildEnds()
	if err != nil {
		p.closeOurEnds()
		return nil, err
	}
	if t.Started != nil {
		if stop := t.Started(cmd.Process.Pid); stop != nil {
			defer stop()
		}
	}
	fed := p.feed(t, cancel)
	// The group's Wait kills what the tool left running, which may hold
	// its output open: the readers see the output's end after it.
	werr := group.Wait()
	p.readers.Wait()
	res := &Result{Err: werr, Stdout: p.stdout.bytes(), Stderr: p.stderr.bytes(), Feed: <-fed}
	res.classify(ctx, cmd.ProcessState)
	return res, nil
}

// classify sets how the run ended from the tool's state and ctx.
func (r *Result) classify(ctx context.Context, ps *os.ProcessState) {
	r.Code = ps.ExitCode()
	ws, _ := ps.Sys().(interface{ Signaled() bool })
	switch {
	case r.Code == 0 && r.Err == nil:
		r.Exit = Exited
	case ctx.Err() != nil:
		r.Exit = Stopped
	case ws != nil && ws.Signaled():
		r.Exit = Signaled
	default:
		r.Exit = Exited
	}
}

// plumbing is a run's pipes and output readers.
type plumbing struct {
	child          []*os.File // the tool's ends, closed once it started
	ours           []*os.File // ours, closed if it did not start (else by their users)
	secret         *os.File   // the write end of the secret's pipe
	stdin          *os.File   // the write end of Feed's pipe
	stdout, stderr *capBuffer
	readers        sync.WaitGroup
	start          []func()
}

// plumb connects cmd's secret pipe, stdin, stdout and stderr as t says.
// Readers of the output start with feed, once the tool has started.
func (t *Tool) plumb(cmd *exec.Cmd) (*plumbing, error) {
	p := &plumbing{}
	if t.Secret != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return p, fmt.Errorf("create the secret's pipe: %w", err)
		}
		p.child, p.ours, p.secret = append(p.child, r), append(p.ours, w), w
		cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	}
	if t.Feed != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return p, fmt.Errorf("create the stdin pipe: %w", err)
		}
		p.child, p.ours, p.stdin = append(p.child, r), append(p.ours, w), w
		cmd.Stdin = r
	}
	var err error
	p.stdout, err = p.output(&cmd.Stdout, t.Stdout, t.StdoutMax)
	if err != nil {
		return p, err
	}
	stderrMax := t.StderrMax
	if stderrMax == 0 {
		stderrMax = DefaultStderrMax
	}
	p.stderr, err = p.output(&cmd.Stderr, t.Stderr, stderrMax)
	return p, err
}

// output connects one of the tool's outputs (w): to read, through a pipe
// of its own, or into a buffer that keeps max bytes. The pipe is not
// exec's (StdoutPipe), whose Wait would wait for every holder of its
// write end, such as a child the tool left running.
func (p *plumbing) output(w *io.Writer, read func(io.Reader), max int) (*capBuffer, error) {
	if read == nil {
		if max <= 0 {
			return nil, nil
		}
		b := &capBuffer{max: max}
		*w = b
		return b, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create an output pipe: %w", err)
	}
	p.child, p.ours, *w = append(p.child, pw), append(p.ours, r), pw
	p.start = append(p.start, func() {
		defer p.readers.Done()
		defer r.Close()
		read(r)
		_, _ = io.Copy(io.Discard, r) // always drain: a closed pipe would stop the tool
	})
	return nil, nil
}

func (p *plumbing) closeChildEnds() {
	for _, f := range p.child {
		_ = f.Close()
	}
}

func (p *plumbing) closeOurEnds() {
	for _, f := range p.ours {
		_ = f.Close()
	}
}

// feed starts the output readers and the writers of the secret and of
// stdin; the channel gets Feed's error once it returned.
func (p *plumbing) feed(t *Tool, cancel context.CancelFunc) <-chan error {
	p.readers.Add(len(p.start))
	for _, f := range p.start {
		go f()
	}
	if p.secret != nil {
		go func() {
			_, _ = p.secret.Write(append(append([]byte(nil), t.Secret...), '\n'))
			_ = p.secret.Close()
		}()
	}
	fed := make(chan error, 1)
	if p.stdin == nil {
		fed <- nil
		return fed
	}
	go func() {
		err := t.Feed(p.stdin)
		_ = p.stdin.Close()
		if err != nil {
			cancel() // the input is incomplete: stop the tool
		}
		fed <- err
	}()
	return fed
}

// capBuffer keeps the first max bytes written to it and discards the
// rest.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *capBuffer) bytes() []byte {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// Excerpt is lines of a tool's stderr for a message: at most maxLines of
// them, joined with "; ", escaped (textsafe) so that a tool cannot put a
// line break or a terminal escape into a reason, and clipped to maxBytes.
func Excerpt(lines []string, maxLines, maxBytes int) string {
	lines = lines[:min(len(lines), maxLines)]
	return textsafe.Clip(textsafe.Escape(strings.Join(lines, "; ")), maxBytes)
}
