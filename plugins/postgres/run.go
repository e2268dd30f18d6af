package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins/internal/proc"
)

const (
	// stopGrace is how long a client tool has to stop after SIGINT before
	// it is killed.
	stopGrace = 10 * time.Second
	// maxMessageLines and maxMessageBytes bound the part of a tool's
	// stderr that goes into a problem.
	maxMessageLines = 5
	maxMessageBytes = 1000
	// stderrKeep bounds the stderr kept of one run.
	stderrKeep = 64 << 10
)

// keptEnv are the variables of the plugin's own environment the client
// tools get; every PG* variable is set from the source instead.
var keptEnv = []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL", "HOME"}

// toolEnv is a client tool's environment: a minimal one, plus where the
// server is, the user to log in as (the scratch role) and the temporary
// pgpass file holding its password. The configured login's password never
// reaches a tool.
func (s *source) toolEnv(pgpass, user string) []string {
	var env []string
	for _, k := range keptEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("HOME"); !ok {
		env = append(env, "HOME="+os.TempDir())
	}
	env = append(env, "PGHOST="+s.conn.host, "PGPORT="+s.conn.port,
		"PGCONNECT_TIMEOUT="+fmt.Sprint(int(connectTimeout/time.Second)), "PGAPPNAME=drill")
	if user != "" {
		env = append(env, "PGUSER="+user)
	}
	if s.conn.sslmode != "" {
		env = append(env, "PGSSLMODE="+s.conn.sslmode)
	}
	if pgpass == "" {
		pgpass = os.DevNull
	}
	return append(env, "PGPASSFILE="+pgpass)
}

// maxPasswordFile bounds password_file.
const maxPasswordFile = 64 << 10

// readPassword reads password_file: its first line. The file must be a
// regular file, not a symlink: an error (the operator's to fix), since
// the file is the config's, not the backup's.
func (s *source) readPassword() (string, error) {
	if s.passwordFile == "" {
		return "", nil
	}
	b, err := safefile.ReadFile(s.passwordFile, "password file", maxPasswordFile)
	if err != nil {
		return "", fmt.Errorf("read the password file of server %s: %w", s.serverName(), err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(pw, "\r"), nil
}

// writePgpass writes password into a new pgpass file (mode 0600, in
// os.TempDir, the plugin's TMPDIR) for user's logins to database, and
// returns its path and a function removing it.
func writePgpass(password, user string) (string, func(), error) {
	f, err := os.CreateTemp("", "drill-pgpass-*")
	if err != nil {
		return "", nil, fmt.Errorf("create a temporary pgpass file: %w", err)
	}
	remove := func() { _ = os.Remove(f.Name()) }
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		remove()
		return "", nil, fmt.Errorf("create a temporary pgpass file: %w", err)
	}
	if _, err := f.WriteString("*:*:" + esc(user) + ":" + esc(user) + ":" + esc(password) + "\n"); err != nil {
		_ = f.Close()
		remove()
		return "", nil, fmt.Errorf("write a temporary pgpass file: %w", err)
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, fmt.Errorf("write a temporary pgpass file: %w", err)
	}
	return f.Name(), remove, nil
}

// findTool resolves a client tool, or says how to install it.
func findTool(binary, name, key string) (string, error) {
	p, err := exec.LookPath(binary)
	if err != nil {
		return "", fmt.Errorf("%s not found: install the PostgreSQL client (postgresql-client) or set %s", name, key)
	}
	return p, nil
}

// run is the outcome of one client tool run.
type run struct {
	code     int
	stdout   []byte
	stderr   []byte
	startErr error
}

// runTool runs a client tool and waits for it (proc.Tool). On ctx's end
// it and anything it started get SIGINT, so it can end its session
// cleanly, and are killed only after a grace period. Its stdin is
// /dev/null: no tool may wait for a password. extra are the descriptors
// the tool gets as 3, 4, ...; with keepStdout its first 16 MiB of stdout
// are kept.
func runTool(ctx context.Context, binary string, args, env []string, keepStdout bool, extra []*os.File) *run {
	tool := &proc.Tool{Path: binary, Args: args, Env: env, Dir: os.TempDir(), Files: extra,
		StderrMax: stderrKeep, Grace: stopGrace}
	if keepStdout {
		tool.StdoutMax = 16 << 20
	}
	res, err := tool.Run(ctx)
	if err != nil {
		if proc.IsNotFound(err) {
			err = fmt.Errorf("%s not found: %w", binary, err)
		}
		return &run{code: -1, startErr: err}
	}
	r := &run{code: res.Code, stdout: res.Stdout, stderr: res.Stderr}
	if r.code == 0 && res.Err != nil {
		// Exited well, but its output was not drained in time.
		r.code = -1
		r.startErr = res.Err
	}
	return r
}

// message is the first lines of a run's stderr, at most maxMessageLines
// lines and maxMessageBytes bytes, joined with "; ", without what the
// tool echoes of its input (see quietLines).
func (r *run) message() string {
	if r.startErr != nil {
		return r.startErr.Error()
	}
	lines := quietLines(string(r.stderr))
	if len(lines) == 0 {
		return fmt.Sprintf("exit code %d", r.code)
	}
	return proc.Excerpt(lines, maxMessageLines, maxMessageBytes)
}

// quietLines returns the lines of a client tool's stderr that say what
// went wrong, without the ones that echo the dump: the LINE n: context
// and its caret, the QUERY: and CONTEXT: lines, pg_restore's
// "Command was:" (up to its next message), and the server's at or near
// "token". A dump that is a secret must not end up in the record.
func quietLines(stderr string) []string {
	var out []string
	echo := false
	for l := range strings.SplitSeq(stderr, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "pg_restore:") || strings.HasPrefix(l, "psql:"):
			echo = false
		case echo, lineEchoRE.MatchString(l), strings.Trim(l, "^ ") == "":
			continue
		}
		for _, p := range []string{"Command was:", "QUERY:", "CONTEXT:", "DETAIL:", "HINT:"} {
			if strings.HasPrefix(l, p) {
				echo = p == "Command was:"
				l = ""
			}
		}
		if l != "" {
			out = append(out, quietMessage(l, true))
		}
	}
	return out
}

var (
	// lineEchoRE is psql's and pg_restore's LINE n: context line.
	lineEchoRE = regexp.MustCompile(`^LINE \d+:`)
	// atOrNearRE is the token the server quotes from the statement.
	atOrNearRE = regexp.MustCompile(`(?s) at or near ".*"`)
	// quotedRE is a name or value the server quotes: a table, a column,
	// a value of COPY data; the values may be the dump's content.
	quotedRE = regexp.MustCompile(`"(?:[^"]|"")*"`)
	// nameKindRE ends the text before a quoted name: the server writes
	// `schema "app"`, `column "a" of relation "t"`, `unique constraint
	// "k"`, and a value after a colon or "value" (`for type integer:
	// "x"`).
	nameKindRE = regexp.MustCompile(`\b(?:relation|table|view|schema|column|constraint|index|sequence|type|domain|function|procedure|aggregate|role|database|extension|tablespace|trigger|rule|policy|collation|conversion|language|publication|subscription|server|encoding) $`)
)

// quietMessage drops what a server message quotes of the statement or
// the data: the at or near "token", and every quoted name or value
// (statement numbers and dump lines say where instead). A file that
// holds a secret, restored by mistake, cannot put it into the signed
// record through an error. Names are kept when names is set (the input
// is a dump pg_dump wrote, whose names drill records anyway as its
// tables) and every quoted string in m follows the kind of object it
// names: `schema "app" does not exist` says what to fix, and a value
// (`invalid input syntax for type integer: "x"`, even one holding
// ` relation "y"`) still hides every quoted string.
func quietMessage(m string, names bool) string {
	m = atOrNearRE.ReplaceAllString(m, "")
	if names && allNames(m) {
		return m
	}
	return quotedRE.ReplaceAllString(m, `"…"`)
}

// allNames reports whether every quoted string in m follows the kind of
// object it names.
func allNames(m string) bool {
	for _, loc := range quotedRE.FindAllStringIndex(m, -1) {
		if !nameKindRE.MatchString(m[:loc[0]]) {
			return false
		}
	}
	return true
}

// serverMessage is a server error for a problem: its message (without
// echoed input, with names when names is set; see quietMessage), never
// its DETAIL, HINT, QUERY or CONTEXT, which quote rows and statements,
// escaped and clipped.
func serverMessage(e *pgconn.PgError, names bool) string {
	return textsafe.Clip(textsafe.Escape(fmt.Sprintf("ERROR: %s (SQLSTATE %s)", quietMessage(e.Message, names), e.Code)), maxMessageBytes)
}

// diskFullHints mark a failure of the server's storage, not of the dump.
var diskFullHints = []string{"no space left on device", "could not extend file", "disk full", "disk quota", "quota exceeded"}

// isDiskFull reports whether msg says the server ran out of room.
func isDiskFull(msg string) bool { return hinted(msg, diskFullHints) }

// connectionHints mark a tool that could not reach or log in to the
// server: the drill could not be carried out.
var connectionHints = []string{"connection to server", "could not connect to server",
	"password authentication failed", "no password supplied", "no pg_hba.conf entry",
	"server closed the connection unexpectedly", "terminating connection due to administrator command"}

func isConnectionFailure(msg string) bool { return hinted(msg, connectionHints) }

// hinted reports whether msg, in lower case, holds one of hints.
func hinted(msg string, hints []string) bool {
	m := strings.ToLower(msg)
	return slices.ContainsFunc(hints, func(h string) bool { return strings.Contains(m, h) })
}
