package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
	"github.com/go-sql-driver/mysql"
)

const (
	// fingerprintLimit is the largest table (information_schema's
	// DATA_LENGTH) that is fingerprinted; larger ones are only counted.
	fingerprintLimit = 256 << 20
	// groupConcatMax is the session's group_concat_max_len for the
	// fingerprints: 32 hex digits per row of a table up to
	// fingerprintLimit fit.
	groupConcatMax = 1 << 30
	dialTimeout    = 10 * time.Second
)

// open returns a pool on the server, in database db ("" for none). The
// password is set in the driver's config, never in a DSN string.
func (s *server) open(db string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = s.user, s.password
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port))
	cfg.DBName = db
	cfg.Timeout = dialTimeout
	cfg.Logger = &mysql.NopLogger{} // errors are returned, not logged
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s, err)
	}
	return sql.OpenDB(conn), nil
}

// connect opens the server and checks that it answers.
func (s *server) connect(ctx context.Context, db string) (*sql.DB, error) {
	pool, err := s.open(db)
	if err != nil {
		return nil, err
	}
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("connect to server %s: %w", s, err)
	}
	return pool, nil
}

// tableInfo is a table of the scratch database.
type tableInfo struct {
	name       string
	base       bool // a base table, not a view
	dataLength int64
}

// listTables lists the tables and views of db.
func listTables(ctx context.Context, conn *sql.Conn, db string) ([]tableInfo, error) {
	rows, err := conn.QueryContext(ctx,
		"SELECT TABLE_NAME, TABLE_TYPE, COALESCE(DATA_LENGTH, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", db)
	if err != nil {
		return nil, fmt.Errorf("list the restored tables: %w", err)
	}
	defer rows.Close()
	var out []tableInfo
	for rows.Next() {
		var t tableInfo
		var typ string
		if err := rows.Scan(&t.name, &typ, &t.dataLength); err != nil {
			return nil, fmt.Errorf("list the restored tables: %w", err)
		}
		t.base = typ == "BASE TABLE"
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the restored tables: %w", err)
	}
	return out, nil
}

// columnsOf returns the columns of db.table in order, or those of its
// primary key when primary is set.
func columnsOf(ctx context.Context, conn *sql.Conn, db, table string, primary bool) ([]string, error) {
	q := "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"
	if primary {
		q = "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"
	}
	rows, err := conn.QueryContext(ctx, q, db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// fingerprintQuery is the query giving a table's row count, the MD5 over
// its rows in primary-key order and the length of what was hashed (to see
// a group_concat_max_len cut). Each row is the MD5 of its columns, each as
// the hex of its bytes or NULL, so that NULL and ” differ and no value
// can run into the next. Columns go through CAST(... AS BINARY) first:
// HEX() of a DECIMAL or DOUBLE would round it to an integer. A table
// without a primary key is ordered by the rows' digests, which does not
// depend on collations.
func fingerprintQuery(db, table string, cols, key []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "COALESCE(HEX(CAST(" + quoteIdent(c) + " AS BINARY)), 'NULL')"
	}
	row := "MD5(CONCAT_WS('#', " + strings.Join(parts, ", ") + "))"
	order := row
	if len(key) > 0 {
		q := make([]string, len(key))
		for i, k := range key {
			q[i] = quoteIdent(k)
		}
		order = strings.Join(q, ", ")
	}
	return "SELECT n, COALESCE(MD5(g), MD5('')), COALESCE(LENGTH(g), 0) FROM (SELECT COUNT(*) AS n, GROUP_CONCAT(" +
		row + " ORDER BY " + order + " SEPARATOR '') AS g FROM " + quoteIdent(db) + "." + quoteIdent(table) + ") AS f"
}

// fingerprints counts and fingerprints every base table of db, in the
// server, sorted by name.
func fingerprints(ctx context.Context, conn *sql.Conn, db string, tables []tableInfo) ([]plugins.Table, error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION group_concat_max_len = "+strconv.Itoa(groupConcatMax)); err != nil {
		return nil, fmt.Errorf("set group_concat_max_len: %w", err)
	}
	var out []plugins.Table
	for _, t := range tables {
		if !t.base {
			continue
		}
		tb := plugins.Table{Name: t.name}
		if t.dataLength > fingerprintLimit {
			if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(db)+"."+quoteIdent(t.name)).Scan(&tb.Rows); err != nil {
				return nil, fmt.Errorf("count the rows of table %s: %w", t.name, err)
			}
			out = append(out, tb)
			continue
		}
		cols, err := columnsOf(ctx, conn, db, t.name, false)
		if err != nil {
			return nil, fmt.Errorf("list the columns of table %s: %w", t.name, err)
		}
		key, err := columnsOf(ctx, conn, db, t.name, true)
		if err != nil {
			return nil, fmt.Errorf("list the primary key of table %s: %w", t.name, err)
		}
		var hashed int64
		if err := conn.QueryRowContext(ctx, fingerprintQuery(db, t.name, cols, key)).Scan(&tb.Rows, &tb.Fingerprint, &hashed); err != nil {
			return nil, fmt.Errorf("fingerprint table %s: %w", t.name, err)
		}
		if hashed != 32*tb.Rows {
			return nil, fmt.Errorf("fingerprint table %s: the server hashed %d bytes for %d rows (group_concat_max_len too small?)", t.name, hashed, tb.Rows)
		}
		out = append(out, tb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// tableName is a checked table's name in the scratch database: the
// schema of "schema.table" is the dump's database, now the scratch one.
func tableName(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// runChecks runs the drill's database checks in the scratch database and
// returns them as Checks; a check that cannot be made (a bad expect) is a
// problem.
func runChecks(ctx context.Context, conn *sql.Conn, db string, dc *plugins.DatabaseChecks, tables []tableInfo, counted []plugins.Table) ([]plugins.Check, []plugins.Problem, error) {
	var checks []plugins.Check
	var probs []plugins.Problem
	exists := map[string]bool{}
	for _, t := range tables {
		exists[t.name] = true
	}
	if len(dc.Tables) > 0 {
		var missing []string
		for _, t := range dc.Tables {
			if !exists[tableName(t)] {
				missing = append(missing, t)
			}
		}
		c := plugins.Check{Name: "tables", OK: len(missing) == 0}
		if c.OK {
			c.Detail = fmt.Sprintf("all %d tables exist: %s", len(dc.Tables), strings.Join(dc.Tables, ", "))
		} else {
			c.Detail = fmt.Sprintf("missing %d of %d tables: %s", len(missing), len(dc.Tables), strings.Join(missing, ", "))
		}
		checks = append(checks, c)
	}
	if len(dc.MinRows) > 0 {
		rows := map[string]int64{}
		for _, t := range counted {
			rows[t.Name] = t.Rows
		}
		names := make([]string, 0, len(dc.MinRows))
		for t := range dc.MinRows {
			names = append(names, t)
		}
		sort.Strings(names)
		c := plugins.Check{Name: "min_rows", OK: true}
		var details []string
		for _, t := range names {
			min := dc.MinRows[t]
			n, ok := rows[tableName(t)]
			if !ok && exists[tableName(t)] { // a view
				if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(db)+"."+quoteIdent(tableName(t))).Scan(&n); err != nil {
					c.OK = false
					details = append(details, fmt.Sprintf("%s: %v", t, err))
					continue
				}
				ok = true
			}
			switch {
			case !ok:
				c.OK = false
				details = append(details, fmt.Sprintf("%s: no such table, at least %d rows expected", t, min))
			case n < min:
				c.OK = false
				details = append(details, fmt.Sprintf("%s: %d rows, at least %d expected", t, n, min))
			default:
				details = append(details, fmt.Sprintf("%s: %d rows (at least %d)", t, n, min))
			}
		}
		c.Detail = strings.Join(details, "; ")
		checks = append(checks, c)
	}
	for _, q := range dc.SQL {
		name := "sql"
		if q.Name != "" {
			name = "sql " + q.Name
		}
		exp, err := dbcheck.ParseExpect(q.Expect)
		if err != nil {
			probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Message: fmt.Sprintf("check %s (%s): %v", name, dbcheck.Query(q.Query), err)})
			continue
		}
		ok, detail, err := sqlCheck(ctx, conn, q.Query, exp)
		if err != nil {
			return nil, nil, err
		}
		checks = append(checks, plugins.Check{Name: name, OK: ok, Detail: dbcheck.Detail(q.Name, q.Query, detail)})
	}
	return checks, probs, nil
}

// sqlCheck runs one query in a read-only transaction that is always
// rolled back. The query must return one row of one column. A query
// error fails the check with the server's message; an error is returned
// only when the check could not be made at all.
func sqlCheck(ctx context.Context, conn *sql.Conn, query string, exp dbcheck.Expect) (bool, string, error) {
	if _, err := conn.ExecContext(ctx, "START TRANSACTION READ ONLY"); err != nil {
		return false, "", fmt.Errorf("start a read-only transaction for the sql checks: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") }()
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		if ctx.Err() != nil {
			return false, "", ctx.Err()
		}
		return false, "the query failed: " + serverMessage(err), nil
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, "the query failed: " + serverMessage(err), nil
	}
	if len(cols) != 1 {
		return false, fmt.Sprintf("the query returned %d columns, expected one row of one column", len(cols)), nil
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, "the query failed: " + serverMessage(err), nil
		}
		return false, "the query returned no rows, expected one row of one column", nil
	}
	var v sql.NullString
	if err := rows.Scan(&v); err != nil {
		return false, "read the query's value: " + err.Error(), nil
	}
	if rows.Next() {
		return false, "the query returned more than one row, expected one row of one column", nil
	}
	if err := rows.Err(); err != nil {
		return false, "the query failed: " + serverMessage(err), nil
	}
	ok, detail := exp.Match(v.String, v.Valid)
	return ok, detail, nil
}

// serverMessage is the server's own words for a query error, without
// its echo of the query ("near '...'") and at most maxStderrChars long.
func serverMessage(err error) string {
	msg := err.Error()
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		msg = me.Error()
	}
	return textsafe.Clip(withoutEcho(msg), maxStderrChars)
}

// nearAll is the server's echo of a statement in a whole message.
var nearAll = regexp.MustCompile(`(?s) near '.*' at line (\d+)$| near '.*$`)

// withoutEcho drops the server's "near '...'" echo from a message and
// keeps its "at line N".
func withoutEcho(msg string) string {
	return nearAll.ReplaceAllStringFunc(msg, func(m string) string {
		if sub := nearEnd.FindStringSubmatch(m); sub != nil {
			return " at line " + sub[1]
		}
		return ""
	})
}
