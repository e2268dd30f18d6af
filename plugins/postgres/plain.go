package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

const (
	// batchBytes is how much SQL goes into one Query message: consecutive
	// statements travel together, which saves a round trip each.
	batchBytes = 1 << 20
	// copyChunk is the size of the CopyData messages of COPY data.
	copyChunk = 256 << 10
	// cancelGrace is how long a cancelled statement has to end before
	// the connection is cut.
	cancelGrace = 10 * time.Second
)

// plainOutcome is how a plain restore ended, when not with an error.
type plainOutcome struct {
	// failed names the statement that failed and why; empty when the
	// whole dump was restored.
	failed string
	// pgErr is the server's error, if that is why.
	pgErr *pgconn.PgError
	// failedStmt is the statement that failed, if known.
	failedStmt *stmt
	// dumpErr is the dump's own fault (a meta-command, unreadable SQL,
	// COPY data cut short), if that is why.
	dumpErr    error
	statements int64
	// skipped counts the statements left out by kind; tolerated lists
	// statements whose known, harmless error was let pass.
	owners, privileges, others int64
	tolerated                  []string
	// database counts the statements of pg_dump --create left out
	// (CREATE, DROP, ALTER and COMMENT ON DATABASE, \connect); nothing
	// counts the DROPs of pg_dump --clean that found nothing to drop.
	database, cleanMissing int64
}

// plainRestore sends a plain dump's statements to the server over one
// connection, with the simple query protocol, as psql would but without
// psql: there is no meta-command to run, and COPY data is sent only when
// the server asks for it with CopyInResponse, after a statement that the
// splitter saw as a COPY. Output of COPY ... TO STDOUT is discarded.
type plainRestore struct {
	conn  *pgconn.PgConn
	fe    *pgproto3.Frontend
	sp    *splitter
	batch []*stmt
	size  int
	out   plainOutcome
	// created and connected: the dump's CREATE DATABASE and the
	// \connect to it were seen (pg_dump --create).
	created, connected bool
	// held is a DROP DATABASE kept back until the next statement shows
	// whether it is pg_dump --clean --create's, right before its CREATE
	// DATABASE (left out), or any other (sent, and refused by the server).
	held *stmt
}

// restorePlain restores the dump read from r into the database conn is
// connected to. A failure of the dump is in the outcome; the error is for
// the server lost or ctx ended (conn is then unusable).
func restorePlain(ctx context.Context, conn *pgconn.PgConn, r io.Reader) (*plainOutcome, []byte, error) {
	p := &plainRestore{conn: conn, fe: conn.Frontend(), sp: newSplitter(r)}
	stop := watchCancel(ctx, conn)
	err := p.run(ctx)
	if serr := stop(); serr != nil {
		err = serr
	}
	if err != nil {
		return nil, p.sp.header, err
	}
	return &p.out, p.sp.header, nil
}

// watchCancel cancels the statement under way on conn when ctx ends, and
// cuts the connection if it has not ended after cancelGrace. The returned
// function stops the watch and returns ctx's error if it ended.
func watchCancel(ctx context.Context, conn *pgconn.PgConn) func() error {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-quit:
			return
		case <-ctx.Done():
		}
		cctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		_ = conn.CancelRequest(cctx)
		cancel()
		select {
		case <-quit:
		case <-time.After(cancelGrace):
			_ = conn.Conn().SetDeadline(time.Now())
		}
	}()
	return func() error {
		close(quit)
		<-done
		return ctx.Err()
	}
}

func (p *plainRestore) run(ctx context.Context) error {
	for {
		s, err := p.sp.next()
		if h := p.held; h != nil {
			p.held = nil
			if err == nil && strings.HasPrefix(s.head, "CREATE DATABASE ") {
				p.out.database++
			} else if ok, herr := p.flush(ctx); herr != nil || !ok {
				return herr
			} else if ok, herr := p.one(ctx, h); herr != nil || !ok {
				return herr
			}
		}
		if errors.Is(err, io.EOF) {
			_, err := p.flush(ctx)
			return err
		}
		var cm *connectMeta
		if errors.As(err, &cm) && p.created && !p.connected {
			p.connected = true
			p.out.database++
			continue
		}
		if cm != nil {
			err = &clusterDumpError{line: cm.line, why: "a \\connect to another database"}
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			// A meta-command, unreadable SQL, a read or gzip error:
			// what came before it is restored first, so the outcome
			// is the same whichever line of defence stops the dump.
			return p.stopWith(ctx, err)
		}
		p.out.statements++
		if p.out.statements == 1 && bytes.Contains(p.sp.header, []byte("\n-- PostgreSQL database cluster dump")) {
			p.out.dumpErr = &clusterDumpError{line: 1, why: "pg_dumpall output"}
			return nil
		}
		if more, err := p.statement(ctx, s); !more || err != nil {
			return err
		}
	}
}

// stopWith sends what came before the dump's error err, and ends the
// restore with it.
func (p *plainRestore) stopWith(ctx context.Context, err error) error {
	if ok, ferr := p.flush(ctx); ferr != nil || !ok {
		return ferr
	}
	p.out.dumpErr = err
	return nil
}

// statement handles one statement of the dump: counted and left out,
// sent alone, or added to the batch. It returns false when the restore
// ends.
func (p *plainRestore) statement(ctx context.Context, s *stmt) (bool, error) {
	// pg_dump --create (and --clean) write statements about the database
	// itself: the scratch database stands in for it, as pg_restore
	// without --create has it, and they never reach the server. A second
	// CREATE DATABASE is a dump of more than one database.
	switch {
	case strings.HasPrefix(s.head, "CREATE DATABASE "):
		if p.created {
			return false, p.stopWith(ctx, &clusterDumpError{line: s.line, why: "a second CREATE DATABASE"})
		}
		p.created = true
		p.out.database++
		return true, nil
	case strings.HasPrefix(s.head, "DROP DATABASE ") && !p.created:
		p.held = s
		return true, nil
	case p.created && databaseRE.MatchString(s.head):
		p.out.database++
		return true, nil
	}
	switch s.kind {
	case kindOwner:
		p.out.owners++
		return true, nil
	case kindPrivilege:
		p.out.privileges++
		return true, nil
	case kindSkip:
		p.out.others++
		return true, nil
	case kindCopy, kindAlone:
		if ok, err := p.flush(ctx); err != nil || !ok {
			return false, err
		}
		return p.one(ctx, s)
	}
	p.batch = append(p.batch, s)
	p.size += len(s.text)
	if s.kind == kindEndBatch || p.size >= batchBytes {
		return p.flush(ctx)
	}
	return true, nil
}

// flush sends the batch. It returns false when a statement failed (the
// outcome says which).
func (p *plainRestore) flush(ctx context.Context) (bool, error) {
	batch := p.batch
	p.batch, p.size = nil, 0
	switch len(batch) {
	case 0:
		return true, nil
	case 1:
		return p.one(ctx, batch[0])
	}
	var sql bytes.Buffer
	for _, s := range batch {
		sql.Write(s.text)
	}
	res, err := p.query(ctx, sql.String(), nil)
	if err != nil {
		return false, err
	}
	if res.pgErr == nil && res.unexpected == nil {
		return true, nil
	}
	if err := ctx.Err(); err != nil || res.pgErr != nil && (res.pgErr.Code == "57014" || strings.HasPrefix(res.pgErr.Code, "57P")) {
		// Cancelled (the drill's end, max_scratch_bytes, a
		// statement_timeout) or the server going away: nothing to
		// run again.
		p.fail(batch[0], res)
		return false, err
	}
	// A batch runs as one implicit transaction: a failure undid all of
	// it. Run its statements one by one, as psql would have, to find the
	// one that fails and name it.
	let := len(p.out.tolerated) + int(p.out.cleanMissing)
	for _, s := range batch {
		if ok, err := p.one(ctx, s); err != nil || !ok {
			return ok, err
		}
	}
	if len(p.out.tolerated)+int(p.out.cleanMissing) > let {
		return true, nil // the batch's failure was one let pass
	}
	// Each statement alone went through: report the batch's failure.
	p.fail(batch[0], res)
	return false, nil
}

// one sends statement s alone and judges its outcome.
func (p *plainRestore) one(ctx context.Context, s *stmt) (bool, error) {
	res, err := p.query(ctx, string(s.text), s)
	if err != nil {
		return false, err
	}
	if res.pgErr == nil && res.unexpected == nil {
		return true, nil
	}
	if res.unexpected == nil && tolerated(s, res.pgErr) {
		p.out.tolerated = append(p.out.tolerated, s.head[:min(len(s.head), 80)])
		return true, nil
	}
	if res.unexpected == nil && cleanMissing(s, res.pgErr) {
		p.out.cleanMissing++
		return true, nil
	}
	p.fail(s, res)
	return false, nil
}

// fail records statement s's failure in the outcome.
func (p *plainRestore) fail(s *stmt, res *queryResult) {
	p.out.failedStmt = s
	switch {
	case res.unexpected != nil:
		p.out.dumpErr = res.unexpected
		p.out.failed = fmt.Sprintf("%s: %v", s.where(), res.unexpected)
	default:
		p.out.pgErr = res.pgErr
		p.out.failed = fmt.Sprintf("%s failed: %s", s.where(), serverMessage(res.pgErr, plainVersion(p.sp.header) != ""))
	}
}

// tolerated reports whether err of statement s is one of the known,
// harmless errors of a real pg_dump restored by a role that is not a
// superuser: COMMENT ON EXTENSION of an extension the server installed
// (plpgsql), which only its owner may comment on.
func tolerated(s *stmt, err *pgconn.PgError) bool {
	return err != nil && err.Code == "42501" && strings.HasPrefix(s.head, "COMMENT ON EXTENSION ")
}

// databaseRE matches the statements pg_dump --create writes about the
// dumped database itself after its CREATE DATABASE.
var databaseRE = regexp.MustCompile(`^(ALTER|COMMENT ON) DATABASE `)

// cleanMissing reports whether err of statement s is a DROP of pg_dump
// --clean (DROP ..., ALTER TABLE ... DROP CONSTRAINT, lo_unlink of a large
// object) finding nothing to drop: the scratch database is empty, and psql
// reports these errors and goes on, as the restore does.
func cleanMissing(s *stmt, err *pgconn.PgError) bool {
	drop := strings.HasPrefix(s.head, "DROP ") || strings.HasPrefix(s.head, "ALTER ") && strings.Contains(s.head, " DROP ") ||
		strings.HasPrefix(s.head, "SELECT PG_CATALOG.LO_UNLINK(")
	if err == nil || !drop {
		return false
	}
	switch err.Code {
	case "42704", // undefined_object
		"42P01", // undefined_table
		"3F000", // invalid_schema_name
		"42883": // undefined_function
		return true
	}
	return false
}

// clusterDumpError is a plain dump of more than one database: pg_dumpall
// output, which creates roles and moves between databases with \connect.
type clusterDumpError struct {
	line int64
	why  string
}

func (e *clusterDumpError) Error() string {
	return fmt.Sprintf("line %d: %s: this is a dump of a whole cluster (pg_dumpall), and drill restores one database per drill into its scratch database; dump each database with pg_dump (pg_dump -Fc DB > DB.dump, or plain, gzip'd or zstd'd) and drill each dump", e.line, e.why)
}

// queryResult is what the server answered to one Query message.
type queryResult struct {
	pgErr *pgconn.PgError
	// unexpected is set when the server asked for COPY data where the
	// dump has none, or the dump's COPY data was bad (the copy was
	// failed with CopyFail).
	unexpected error
}

// query sends sql as one Query message and reads the answers up to
// ReadyForQuery. copyStmt is the statement whose COPY data may follow,
// or nil: the server's first CopyInResponse to it gets the data; any
// other CopyInResponse gets CopyFail.
func (p *plainRestore) query(ctx context.Context, sql string, copyStmt *stmt) (*queryResult, error) {
	res := &queryResult{}
	p.fe.Send(&pgproto3.Query{String: sql})
	if err := p.fe.Flush(); err != nil {
		return nil, p.lost(ctx, err)
	}
	copied := false
	for {
		msg, err := p.fe.Receive()
		if err != nil {
			return nil, p.lost(ctx, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if res.pgErr == nil {
				res.pgErr = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.CopyInResponse:
			var why error
			switch {
			case copyStmt == nil || copied:
				why = errors.New("the server asked for COPY data where the dump has none")
			case copyStmt.kind != kindCopy:
				why = errors.New("the server asked for COPY data after a statement that is not a COPY")
			default:
				copied = true
				why = p.copyIn(ctx, copyStmt)
			}
			if why != nil {
				var se *sendError
				if errors.As(why, &se) || ctx.Err() != nil {
					return nil, p.lost(ctx, why)
				}
				if res.unexpected == nil {
					res.unexpected = why
				}
				p.fe.Send(&pgproto3.CopyFail{Message: "drill: " + why.Error()})
			} else {
				p.fe.Send(&pgproto3.CopyDone{})
			}
			if err := p.fe.Flush(); err != nil {
				return nil, p.lost(ctx, err)
			}
		case *pgproto3.CopyBothResponse:
			return nil, errors.New("the server started a replication stream (CopyBothResponse)")
		case *pgproto3.ReadyForQuery:
			return res, nil
		}
	}
}

// copyIn streams the COPY data after statement s to the server.
func (p *plainRestore) copyIn(ctx context.Context, s *stmt) error {
	return p.sp.copyData(s, copyChunk, func(data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.fe.Send(&pgproto3.CopyData{Data: data})
		if err := p.fe.Flush(); err != nil {
			return &sendError{err}
		}
		return nil
	})
}

// sendError is a failure to send to the server (not the dump's fault).
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// lost wraps a failure of the connection, or ctx's end.
func (p *plainRestore) lost(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("the connection to the server failed: %w", err)
}
