package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins/internal/proc"
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
// os.TempDir, the plugin's TMPDIR) with the server's user, password, host
// and port, and returns its path. The caller removes it. The protocol is
// TCP, as for the driver, so that the server sees the client come from the
// host the restore user was created for (the client would take a unix
// socket for "localhost").
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
	b.WriteString("protocol=tcp\n")
	werr := f.Chmod(0o600)
	if werr == nil {
		_, werr = f.WriteString(b.String())
	}
	if err := errors.Join(werr, f.Close()); err != nil {
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

// clientGuards are the client's options that keep a dump from reaching
// the host through it, each where the client has it.
type clientGuards struct {
	// sandbox: --sandbox (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 and
	// later): every client command that touches files or runs a program
	// (\!, system, \., source, tee, \T, pager, LOAD DATA LOCAL) is an
	// error that stops the restore.
	sandbox bool
}

// guardsOf asks the client which guards it has, from its --help.
func guardsOf(ctx context.Context, binary string) clientGuards {
	cmd := exec.CommandContext(ctx, binary, "--no-defaults", "--help")
	cmd.Env = []string{}
	out, _ := cmd.Output()
	return clientGuards{sandbox: strings.Contains(string(out), "--sandbox")}
}

// args are the client's arguments for a restore into db with option file
// opt; the option file must come first.
func (g clientGuards) args(opt, db string) []string {
	// --defaults-file: the client reads drill's option file and no other
	// (no /etc/mysql/my.cnf, no ~/.my.cnf, whose [client] could turn
	// local-infile back on). --binary-mode: the client runs none of its
	// own commands (\! and system, \. and source, \u and use, \r and
	// connect, ...) from the dump, only SQL, DELIMITER and \C; text that
	// would have been one is sent to the server, which refuses it.
	// --local-infile=0: LOAD DATA LOCAL cannot read a file of this host.
	a := []string{"--defaults-file=" + opt, "--batch", "--binary-mode", "--local-infile=0"}
	if g.sandbox {
		a = append(a, "--sandbox")
	}
	return append(a, "--database="+db)
}

// String is the guards for the record's details.
func (g clientGuards) String() string {
	s := "binary-mode, local-infile=0, drill's option file only"
	if g.sandbox {
		s = "sandbox, " + s
	}
	return s
}

// runClient runs the client (proc.Tool) with g's arguments for a restore
// into db, with feed writing the SQL to its stdin. The password reaches
// the client only through a temporary option file removed afterwards:
// never an argument, never the environment. On ctx's end the client and
// anything it started get SIGINT, and are killed after stopGrace. feed's
// error is returned beside the result; when feed fails the client is
// stopped. A nil result means the client could not be started, and the
// error says why.
func runClient(ctx context.Context, binary string, g clientGuards, srv *server, db string, feed func(io.Writer) error) (*clientResult, error) {
	opt, err := optionFile(srv)
	if err != nil {
		return nil, err
	}
	defer os.Remove(opt)
	res := &clientResult{}
	tool := &proc.Tool{
		Path:   binary,
		Args:   g.args(opt, db),
		Env:    keptEnv(),
		Grace:  stopGrace,
		Stderr: func(r io.Reader) { res.stderr = readMessages(r) },
		Feed: func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 256<<10)
			if err := feed(bw); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return &writeError{err}
			}
			return nil
		},
	}
	pr, err := tool.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	res.code, res.waitErr = pr.Code, pr.Err
	return res, pr.Feed
}

// keptEnv is the client's environment: clientEnv's variables that are set.
func keptEnv() []string {
	var env []string
	for _, k := range clientEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Lines of the client's stderr that are its own messages: an ERROR line
// ("ERROR 1064 (42000) at line 3: ..."), a line the client prefixes with
// its name ("mariadb: unknown variable ..."), a warning. Anything else is
// the statement it echoes, or the rest of a message's echo, and is
// dropped: it is the dump's text.
var (
	ownMessage = regexp.MustCompile(`^(?:ERROR\b|Warning\b|[\w./-]*(?:mariadb|mysql)[\w.-]*: )`)
	// nearEcho is the server's echo of the statement: "near '...' at
	// line N"; it may go on over the following lines.
	nearEcho = regexp.MustCompile(` near '.*$`)
	nearEnd  = regexp.MustCompile(`' at line (\d+)$`)
)

// readMessages reads the client's stderr to its end and keeps its first
// messages (at most maxStderrLines and maxStderrChars) without any text
// of the dump: not the failed statement the client echoes between lines
// of dashes before its ERROR line, not the server's "near '...'" echo of
// it (its "at line N" is kept), and without holding a long line in
// memory.
func readMessages(r io.Reader) []string {
	br := bufio.NewReaderSize(r, 4096)
	var msgs []string
	var cur []byte
	chars, echo, near := 0, false, false
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
		case near && len(msgs) > 0:
			// The rest of a near-echo over several lines: only its "at
			// line N".
			if m := nearEnd.FindStringSubmatch(line); m != nil {
				msgs[len(msgs)-1] += " at line " + m[1]
				near = false
			}
		case echo || line == "" || !ownMessage.MatchString(line):
		case len(msgs) < maxStderrLines && chars < maxStderrChars:
			if loc := nearEcho.FindStringIndex(line); loc != nil {
				m := nearEnd.FindStringSubmatch(line[loc[0]:])
				line = line[:loc[0]]
				if m != nil {
					line += " at line " + m[1]
				} else {
					near = true
				}
			}
			line = textsafe.Clip(line, maxStderrChars-chars)
			chars += len(line)
			msgs = append(msgs, line)
		}
		if err != nil {
			return msgs
		}
	}
}
