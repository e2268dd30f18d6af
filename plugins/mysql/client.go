package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drillhq/drill/plugins/internal/proc"
	"github.com/drillhq/drill/plugins/internal/report"
)

const (
	// stopGrace is how long the client has to stop after SIGINT before it
	// is killed.
	stopGrace = 10 * time.Second
	// maxStderrLines and maxStderrChars bound the client's message kept
	// for a problem.
	maxStderrLines = 5
	maxStderrChars = 1000
)

// clientEnv are the variables the client inherits; nothing else (no
// MYSQL_PWD, no MYSQL_HOST) reaches it.
var clientEnv = []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL", "HOME"}

// optionFile writes a temporary client option file (mode 0600, in
// os.TempDir) with the server's user, password, host and port, and returns
// its path. The caller removes it.
func optionFile(srv *server) (string, error) {
	f, err := os.CreateTemp("", "drill-mysql-*.cnf")
	if err != nil {
		return "", fmt.Errorf("create the client option file: %w", err)
	}
	var b strings.Builder
	b.WriteString("[client]\n")
	b.WriteString("user=" + optionValue(srv.user) + "\n")
	if srv.password != "" {
		b.WriteString("password=" + optionValue(srv.password) + "\n")
	}
	b.WriteString("host=" + optionValue(srv.host) + "\n")
	b.WriteString("port=" + strconv.Itoa(srv.port) + "\n")
	_, werr := f.WriteString(b.String())
	if err := errors.Join(werr, f.Chmod(0o600), f.Close()); err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write the client option file: %w", err)
	}
	return f.Name(), nil
}

// optionValue quotes a value for an option file: in double quotes, with
// the escapes the client's option file reader undoes (\\, \", \n, \r,
// \t), so that '#', ';', quotes and spaces survive.
func optionValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}

// clientResult is what one run of the client said.
type clientResult struct {
	code    int
	stderr  []string // its first lines
	waitErr error
}

// message is the client's first stderr lines on one line, or its exit
// status.
func (r *clientResult) message() string {
	if len(r.stderr) > 0 {
		return strings.Join(r.stderr, "; ")
	}
	if r.waitErr != nil {
		return r.waitErr.Error()
	}
	return fmt.Sprintf("exit code %d", r.code)
}

// diskFull reports whether the client's message says the server ran out
// of space, which says nothing about the dump.
func (r *clientResult) diskFull() bool {
	m := strings.ToLower(r.message())
	for _, s := range []string{"no space left", "disk full", "errno: 28", "quota"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// runClient runs `<binary> --defaults-extra-file=F --batch
// --database=<db>` with feed writing the SQL to its stdin. The password
// reaches the client only through F, a temporary option file removed
// afterwards: never an argument, never the environment. On ctx's end the
// client and anything it started get SIGINT, and are killed after
// stopGrace. feed's error is returned beside the result; when feed fails
// the client is stopped. A nil result means the client could not be
// started, and the error says why.
func runClient(ctx context.Context, binary string, srv *server, db string, feed func(io.Writer) error) (*clientResult, error) {
	opt, err := optionFile(srv)
	if err != nil {
		return nil, err
	}
	defer os.Remove(opt)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// --binary-mode: the client runs none of its own commands (\! and
	// system, \. and source, \u and use, \r and connect, ...) from the
	// dump, only SQL, DELIMITER and \C; text that would have been one is
	// sent to the server, which refuses it. A dump cannot leave the
	// scratch database or reach the host through the client.
	cmd := exec.CommandContext(ctx, binary, "--defaults-extra-file="+opt, "--batch", "--binary-mode", "--database="+db)
	for _, k := range clientEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if cmd.Env == nil {
		cmd.Env = []string{} // not the plugin's environment
	}
	group := proc.NewGroup(cmd, stopGrace)
	proc.DieWithParent(cmd, syscall.SIGINT)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create the client's stdin pipe: %w", err)
	}
	cmd.Stdin = stdinR
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	_ = stdinR.Close()
	fed := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(stdinW, 256<<10)
		err := feed(w)
		if err == nil {
			if ferr := w.Flush(); ferr != nil {
				err = &writeError{ferr}
			}
		}
		_ = stdinW.Close()
		if err != nil {
			cancel() // the SQL is incomplete: stop the client
		}
		fed <- err
	}()
	res := &clientResult{}
	res.stderr = readMessages(stderr)
	res.waitErr = group.Wait()
	res.code = cmd.ProcessState.ExitCode()
	return res, <-fed
}

// readMessages reads the client's stderr to its end and keeps its first
// lines (at most maxStderrLines and maxStderrChars), without the failed
// statement the client echoes between lines of dashes before its ERROR
// line, and without holding a long line in memory.
func readMessages(r io.Reader) []string {
	br := bufio.NewReaderSize(r, 4096)
	var msgs []string
	var cur []byte
	chars, echo := 0, false
	for {
		frag, err := br.ReadSlice('\n')
		if room := maxStderrChars - len(cur); room > 0 {
			cur = append(cur, frag[:min(len(frag), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line := strings.TrimSpace(string(cur))
		cur = cur[:0]
		switch {
		case line == "--------------":
			echo = !echo
		case echo || line == "":
		case len(msgs) < maxStderrLines && chars < maxStderrChars:
			line = report.Clip(line, maxStderrChars-chars)
			chars += len(line)
			msgs = append(msgs, line)
		}
		if err != nil {
			return msgs
		}
	}
}
