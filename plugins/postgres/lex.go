package postgres

// sqlLexer follows a plain dump's SQL byte by byte, as far as psql's own
// lexer does to tell where a backslash is a meta-command: outside string
// literals ('...', E'...'), quoted identifiers ("..."), dollar-quoted
// bodies ($tag$...$tag$) and comments (-- and nested /* */). psql runs a
// backslash outside all of those as a meta-command wherever it stands in
// a line, and takes the rest of the line as its arguments; inside them it
// is text. It also says whether a line begins a statement, so that
// statements are recognised by their first line and never in the middle
// of a function body.
//
// It is a state machine fed in pieces of any size, so a long line read in
// several pieces is followed exactly.
type sqlLexer struct {
	state lexState
	// tag is the dollar quote being read (lexDollarTag) or closed
	// (lexDollar), with both dollars; match is how much of the closing
	// tag has been seen.
	tag   []byte
	match int
	// escapes: the single-quoted literal is an E'' one, where a
	// backslash escapes the next byte; escaped: the next byte is escaped.
	escapes, escaped bool
	// depth is the nesting of /* */ comments.
	depth int
	// prev and prev2 are the last two bytes seen in lexNormal.
	prev, prev2 byte
	// reopen is set after a closing quote: a quote right after it is a
	// doubled quote, and the literal goes on.
	reopen byte
	// stmtStart: only white space and comments since the last ; outside
	// literals (or since the start).
	stmtStart bool
	// semis makes scan stop at a ; that ends a statement too (the
	// statement splitter's use); lastEmpty says whether that statement
	// held only white space and comments.
	semis, lastEmpty bool
}

type lexState uint8

const (
	lexNormal lexState = iota
	lexSingle
	lexDouble
	lexDollarTag
	lexDollar
	lexLineComment
	lexBlockComment
	lexMeta // a meta-command's arguments, up to the end of the line
)

func newSQLLexer() *sqlLexer { return &sqlLexer{stmtStart: true} }

// endMeta leaves a meta-command's arguments: the rest of its line was
// dropped by the caller.
func (l *sqlLexer) endMeta() {
	l.state = lexNormal
	l.prev, l.prev2 = '\n', 0
}

// atStatementStart reports whether the next byte starts a statement.
func (l *sqlLexer) atStatementStart() bool { return l.state == lexNormal && l.stmtStart }

// scan follows b and returns the offset of the first backslash that
// starts a meta-command (or, with semis, of the first ; that ends a
// statement), or -1. After a meta-command psql reads the rest
// of its line as arguments; scan's caller resumes at the returned offset
// + 1 and the lexer skips to the end of the line.
func (l *sqlLexer) scan(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch l.state {
		case lexNormal:
			if l.reopen != 0 && l.reopened(c) {
				continue
			}
			if l.normal(c) {
				l.state = lexMeta
				return i
			}
			if c == ';' && l.semis {
				return i
			}
		case lexSingle:
			switch {
			case l.escaped:
				l.escaped = false
			case c == '\\' && l.escapes:
				l.escaped = true
			case c == '\'':
				l.state, l.reopen = lexNormal, '\''
				l.prev, l.prev2 = 0, 0
			}
		case lexDouble:
			if c == '"' {
				l.state, l.reopen = lexNormal, '"'
				l.prev, l.prev2 = 0, 0
			}
		case lexDollarTag:
			if !l.dollarTag(c) {
				i-- // not a dollar quote: c is read again as normal text
			}
		case lexDollar:
			l.dollarBody(c)
		case lexMeta:
			if c == '\\' {
				// Another meta-command on the same line.
				return i
			}
			if c == '\n' {
				l.state = lexNormal
				l.prev, l.prev2 = '\n', 0
			}
		case lexLineComment:
			if c == '\n' {
				l.state = lexNormal
				l.prev, l.prev2 = '\n', 0
			}
		case lexBlockComment:
			l.blockComment(c)
		}
	}
	return -1
}

// reopened takes the byte c after a closing quote: the same quote again
// (a doubled quote) goes on with the literal, and reopened returns true.
func (l *sqlLexer) reopened(c byte) bool {
	q := l.reopen
	l.reopen = 0
	if c != q {
		l.escapes = false
		return false
	}
	if q == '\'' {
		l.state = lexSingle
	} else {
		l.state = lexDouble
	}
	return true
}

// dollarTag takes byte c of a dollar quote's opening tag. It returns
// false when the tag is not one ($1, or a lone $): the lexer is back in
// normal text, and c is to be read again.
func (l *sqlLexer) dollarTag(c byte) bool {
	switch {
	case c == '$':
		l.tag = append(l.tag, c)
		l.state, l.match = lexDollar, 0
	case c == '_' || c >= 0x80 || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9' && len(l.tag) > 1:
		l.tag = append(l.tag, c)
	default:
		l.state = lexNormal
		l.prev, l.prev2 = '$', 0
		return false
	}
	return true
}

// dollarBody takes byte c inside a dollar-quoted string, looking for its
// closing tag.
func (l *sqlLexer) dollarBody(c byte) {
	switch c {
	case l.tag[l.match]:
		l.match++
		if l.match == len(l.tag) {
			l.state = lexNormal
			l.prev, l.prev2 = 0, 0
		}
	case '$':
		l.match = 1
	default:
		l.match = 0
	}
}

// blockComment takes byte c inside a block comment, which nests.
func (l *sqlLexer) blockComment(c byte) {
	switch {
	case l.prev == '/' && c == '*':
		l.depth++
		c = 0
	case l.prev == '*' && c == '/':
		l.depth--
		c = 0
		if l.depth == 0 {
			l.state = lexNormal
		}
	}
	l.prev = c
}

// normal takes byte c outside literals and comments; it returns true for
// a backslash.
func (l *sqlLexer) normal(c byte) bool {
	prev, prev2 := l.prev, l.prev2
	l.prev2, l.prev = prev, c
	switch c {
	case '\\':
		return true
	case '\'':
		l.state = lexSingle
		l.escapes = (prev == 'E' || prev == 'e') && !identByte(prev2)
		l.escaped = false
	case '"':
		l.state = lexDouble
	case '$':
		if !identByte(prev) {
			l.state = lexDollarTag
			l.tag = append(l.tag[:0], '$')
		}
	case '-':
		if prev == '-' {
			l.state = lexLineComment
			l.prev = 0
			return false
		}
	case '*':
		if prev == '/' {
			l.state, l.depth = lexBlockComment, 1
			l.prev = 0
			return false
		}
	case ';':
		l.lastEmpty = l.stmtStart
		l.stmtStart = true
		return false
	case ' ', '\t', '\n', '\r', '\f':
		return false
	}
	if c == '-' || c == '/' {
		// Perhaps a comment's start: decided by the next byte.
		return false
	}
	l.stmtStart = false
	return false
}

// identByte reports whether c can be part of an identifier (so that a $
// after it is part of the identifier, not a dollar quote).
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9'
}
