package postgres

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/drillhq/drill/internal/textsafe"
)

// maxStatement bounds one statement of a plain dump (a function body, an
// INSERT of a large value), so that a hostile dump cannot fill memory.
const maxStatement = 256 << 20

// stmtKind says how a statement of a plain dump is sent.
type stmtKind uint8

const (
	// kindBatch statements go to the server in batches.
	kindBatch stmtKind = iota
	// kindCopy may be COPY ... FROM stdin: it goes alone, and its data
	// follows only if the server asks for it.
	kindCopy
	// kindAlone statements go alone, so that their outcome is their own:
	// CREATE/COMMENT ON EXTENSION, whose known errors are judged narrowly.
	kindAlone
	// kindEndBatch statements end their batch (SET client_encoding
	// changes how the server reads the next message).
	kindEndBatch
	// kindOwner, kindPrivilege, kindSkip statements are left out, as
	// pg_restore --no-owner --no-privileges --no-subscriptions
	// --no-security-labels leaves them out of archives.
	kindOwner
	kindPrivilege
	kindSkip
)

// stmt is one statement of a plain dump.
type stmt struct {
	text []byte // as in the dump, with its ;
	num  int64  // 1 for the dump's first statement
	line int64  // the dump line it starts on
	kind stmtKind
	// head is the start of its text without leading white space and
	// comments, upper-cased, for messages and classification.
	head string
}

// where names a statement in messages: its number and line.
func (s *stmt) where() string { return fmt.Sprintf("statement %d (line %d)", s.num, s.line) }

var (
	// ownerRE and privilegeRE match the statements pg_dump writes to
	// give objects their owner and privileges. The drill's server need
	// not have those roles, and the drill's role may not grant them.
	ownerRE     = regexp.MustCompile(`(?s)^ALTER [A-Z ]+ .* OWNER TO [^;]*;$`)
	privilegeRE = regexp.MustCompile(`^(GRANT|REVOKE) |^ALTER DEFAULT PRIVILEGES `)
	// skipRE: subscriptions (which need a superuser and would connect to
	// the dump's publisher) and security labels (which need the label
	// provider).
	skipRE = regexp.MustCompile(`^(CREATE|ALTER) SUBSCRIPTION |^SECURITY LABEL `)
	// wsRE is white space in a statement's head.
	wsRE = regexp.MustCompile(`\s+`)
)

// ownerMax is the longest statement ownerRE is tried on: pg_dump's are
// one short line.
const ownerMax = 4096

// classify sets s.kind and s.head.
func (s *stmt) classify() {
	body := trimLeading(s.text)
	h := body[:min(len(body), 256)]
	s.head = strings.ToUpper(wsRE.ReplaceAllString(string(h), " "))
	switch {
	case strings.HasPrefix(s.head, "COPY ") || strings.HasPrefix(s.head, "COPY\t"):
		s.kind = kindCopy
	case strings.HasPrefix(s.head, "CREATE EXTENSION ") || strings.HasPrefix(s.head, "COMMENT ON EXTENSION "):
		s.kind = kindAlone
	case len(body) <= ownerMax && ownerRE.Match(normHead(body)):
		s.kind = kindOwner
	case privilegeRE.MatchString(s.head):
		s.kind = kindPrivilege
	case skipRE.MatchString(s.head):
		s.kind = kindSkip
	case strings.HasPrefix(s.head, "SET ") || strings.HasPrefix(s.head, "RESET ") ||
		strings.HasPrefix(s.head, "SELECT PG_CATALOG.SET_CONFIG("):
		s.kind = kindEndBatch
	}
}

// normHead is a short statement with its white space made single spaces
// and its keywords' case kept (for ownerRE, which wants upper-case
// keywords as pg_dump writes them).
func normHead(b []byte) []byte {
	return bytes.TrimSpace(wsRE.ReplaceAll(b, []byte(" ")))
}

// trimLeading drops leading white space and -- comment lines.
func trimLeading(b []byte) []byte {
	for {
		b = bytes.TrimLeft(b, " \t\r\n\f")
		if !bytes.HasPrefix(b, []byte("--")) {
			return b
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
}

// splitter reads a plain dump statement by statement, following the SQL
// with psql's lexer (sqlLexer) so that a ; inside a literal, a quoted
// name, a dollar-quoted body or a comment does not end a statement. It
// says where a statement ends; the server, not the splitter, decides what
// a statement means and when COPY data is expected (copyData is called
// only when the server asks).
//
// It is also a second line of defence, which the restore does not rely
// on: a psql meta-command outside literals (\! ...) stops the dump with
// a metaError, except \restrict and \unrestrict, which pg_dump writes and
// which are left out, and \connect, which is left out and returned as a
// connectMeta for the restore to judge.
type splitter struct {
	r   *bufio.Reader
	lex *sqlLexer
	// pending is the rest of the current line piece not yet taken.
	pending []byte
	// line is the number of the line pending belongs to; atBOL: the next
	// piece read starts a line.
	line  int64
	atBOL bool
	// skipLine: drop the rest of the line (a \restrict line).
	skipLine bool
	cur      []byte
	curLine  int64 // the line cur[0] is on
	n        int64
	header   []byte
	err      error // sticky: the read error (io.EOF at the end)
}

func newSplitter(r io.Reader) *splitter {
	lex := newSQLLexer()
	lex.semis = true
	return &splitter{r: bufio.NewReaderSize(r, 256<<10), lex: lex, atBOL: true}
}

// readPiece reads the next piece of a line into pending.
func (sp *splitter) readPiece() error {
	if sp.err != nil {
		return sp.err
	}
	piece, err := sp.r.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		sp.err = err
	}
	if len(piece) == 0 {
		return sp.err
	}
	if sp.atBOL {
		sp.line++
	}
	sp.atBOL = piece[len(piece)-1] == '\n'
	if len(sp.header) < headerKeep {
		sp.header = append(sp.header, piece[:min(len(piece), headerKeep-len(sp.header))]...)
	}
	sp.pending = piece
	return nil
}

// next returns the next statement, or io.EOF after the last. Empty
// statements (white space, comments, a lone ;) are dropped.
func (sp *splitter) next() (*stmt, error) {
	for {
		if len(sp.pending) == 0 {
			if err := sp.readPiece(); err != nil {
				if errors.Is(err, io.EOF) {
					return sp.last()
				}
				return nil, err
			}
			continue
		}
		if sp.skipLine {
			i := bytes.IndexByte(sp.pending, '\n')
			if i < 0 {
				sp.pending = nil
				continue
			}
			sp.pending = sp.pending[i+1:]
			sp.skipLine = false
			sp.lex.endMeta()
			continue
		}
		if len(sp.cur) == 0 {
			sp.curLine = sp.line
		}
		i := sp.lex.scan(sp.pending)
		if i < 0 {
			if err := sp.take(len(sp.pending)); err != nil {
				return nil, err
			}
			continue
		}
		if sp.pending[i] == '\\' {
			if err := sp.meta(i); err != nil {
				return nil, err
			}
			continue
		}
		if err := sp.take(i + 1); err != nil {
			return nil, err
		}
		if sp.lex.lastEmpty {
			sp.cur = sp.cur[:0]
			continue
		}
		if s := sp.finish(); s != nil {
			return s, nil
		}
	}
}

// take moves n bytes of pending to the statement under way.
func (sp *splitter) take(n int) error {
	if len(sp.cur)+n > maxStatement {
		return &dumpError{line: sp.curLine, why: fmt.Sprintf("a statement is longer than %d MiB", maxStatement>>20)}
	}
	sp.cur = append(sp.cur, sp.pending[:n]...)
	sp.pending = sp.pending[n:]
	return nil
}

// meta handles a backslash outside literals at pending[i]: the end of
// the dump's own \restrict line, or a meta-command that stops the dump.
func (sp *splitter) meta(i int) error {
	rest, _, _ := bytes.Cut(sp.pending[i:], []byte("\n"))
	t := strings.TrimRight(string(rest), "\r")
	cmd, _, _ := strings.Cut(t, " ")
	alone := len(trimLeading(sp.cur)) == 0 && len(bytes.TrimSpace(sp.pending[:i])) == 0
	if alone && slices.Contains(allowedMeta, cmd) {
		sp.pending = sp.pending[i:]
		sp.skipLine = true
		return nil
	}
	if alone && (cmd == `\connect` || cmd == `\c`) {
		sp.pending = sp.pending[i:]
		sp.skipLine = true
		return &connectMeta{line: sp.line, command: t}
	}
	return &metaError{line: sp.line, command: t}
}

// finish turns the text taken into a statement (nil if it is only white
// space and comments).
func (sp *splitter) finish() *stmt {
	text := sp.cur
	sp.cur = nil
	body := trimLeading(text)
	if len(bytes.TrimSpace(body)) == 0 || string(bytes.TrimSpace(body)) == ";" {
		return nil
	}
	sp.n++
	s := &stmt{text: text, num: sp.n, line: sp.curLine + int64(bytes.Count(text[:len(text)-len(body)], []byte("\n")))}
	s.classify()
	return s
}

// last returns what stands after the last ; at the end of the dump: psql
// sends it as a statement when it holds more than comments.
func (sp *splitter) last() (*stmt, error) {
	if len(sp.cur) == 0 || sp.lex.atStatementStart() {
		return nil, io.EOF
	}
	if s := sp.finish(); s != nil {
		return s, nil
	}
	return nil, io.EOF
}

// errNoCopyEnd is COPY data that the dump ends inside.
var errNoCopyEnd = errors.New(`the dump ends inside COPY data (no \. line)`)

// copyData streams the COPY data that follows statement s, up to its \.
// line, to send in pieces of about chunk bytes. The data starts on the
// line after the statement's; text after the statement on its own line is
// an error, as is the dump's end before \.. It returns the bytes sent.
func (sp *splitter) copyData(s *stmt, chunk int, send func([]byte) error) error {
	if len(bytes.TrimSpace(sp.pending)) > 0 || (len(sp.pending) > 0 && sp.pending[len(sp.pending)-1] != '\n') {
		return &dumpError{line: s.line, why: "COPY data must start on the line after " + textsafe.Clip(s.head, 40)}
	}
	sp.pending = nil
	buf := make([]byte, 0, chunk+64<<10)
	for {
		bol := sp.atBOL
		if err := sp.readPiece(); err != nil {
			if errors.Is(err, io.EOF) {
				return &dumpError{line: sp.line, why: errNoCopyEnd.Error()}
			}
			return err
		}
		piece := sp.pending
		sp.pending = nil
		if bol && (len(piece) <= 4 && string(bytes.TrimRight(piece, "\r\n")) == `\.`) {
			if len(buf) > 0 {
				return send(buf)
			}
			return nil
		}
		buf = append(buf, piece...)
		if len(buf) >= chunk {
			if err := send(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
}

// dumpError is a plain dump that cannot be read as SQL.
type dumpError struct {
	line int64
	why  string
}

func (e *dumpError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.why) }
