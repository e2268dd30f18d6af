package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/restoreevents"
)

// maxFingerprintBytes is the default fingerprint_limit: the size
// (pg_total_relation_size) above which a table is only counted, not
// fingerprinted. Fingerprinting costs about as much as restoring: on a
// 2-core machine, 5.8 s for pgbench_accounts at scale 50 (640 MiB), whose
// restore takes 5.6 s.
const maxFingerprintBytes = 256 << 20

// userTablesSQL lists the user tables (partitioned tables as a whole,
// not their partitions) with their size and primary-key columns in key
// order.
const userTablesSQL = `
SELECT n.nspname, c.relname,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_total_relation_size(pt.relid)), 0)::bigint FROM pg_partition_tree(c.oid) pt)
            ELSE pg_total_relation_size(c.oid) END,
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
                 FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
ORDER BY 1, 2`

// userTable is one table found in the scratch database.
type userTable struct {
	schema, name string
	size         int64
	key          []string
}

// fingerprint counts the rows of every user table and, for tables up to
// limit bytes (0: all), takes the MD5 of their rows' text in primary-key
// order (in the rows' text order when there is no primary key), in the
// server.
func fingerprint(ctx context.Context, conn *pgx.Conn, limit int64) ([]plugins.Table, error) {
	if err := unforceRowSecurity(ctx, conn); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, userTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (userTable, error) {
		var t userTable
		err := row.Scan(&t.schema, &t.name, &t.size, &t.key)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := make([]plugins.Table, 0, len(tables))
	for _, t := range tables {
		tb := plugins.Table{Name: t.schema + "." + t.name}
		q := fingerprintSQL(t, limit)
		if countOnly(t, limit) {
			err = conn.QueryRow(ctx, q).Scan(&tb.Rows)
		} else {
			err = conn.QueryRow(ctx, q).Scan(&tb.Rows, &tb.Fingerprint)
		}
		if err != nil {
			return nil, fmt.Errorf("fingerprint table %s: %w", tb.Name, err)
		}
		out = append(out, tb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// countOnly reports whether table t is too large to fingerprint.
func countOnly(t userTable, limit int64) bool { return limit > 0 && t.size > limit }

// fingerprintSQL is the query that counts (and, up to the size limit,
// fingerprints) table t. (t.*)::text is the whole row even when a column
// is named t.
func fingerprintSQL(t userTable, limit int64) string {
	from := pgx.Identifier{t.schema, t.name}.Sanitize() + " t"
	if countOnly(t, limit) {
		return "SELECT count(*) FROM " + from
	}
	order := `(t.*)::text COLLATE "C"`
	if len(t.key) > 0 {
		cols := make([]string, len(t.key))
		for i, k := range t.key {
			cols[i] = "t." + pgx.Identifier{k}.Sanitize()
		}
		order = strings.Join(cols, ", ")
	}
	return "SELECT count(*), md5(coalesce(string_agg((t.*)::text, E'\\n' ORDER BY " + order + "), '')) FROM " + from
}

// splitTable turns "t" into public.t and "s.t" into s.t.
func splitTable(name string) (schema, table string) {
	if s, t, ok := strings.Cut(name, "."); ok {
		return s, t
	}
	return "public", name
}

// runChecks runs the drill's database checks in a read-only transaction
// that is rolled back. An expect that does not parse is an error problem
// (the check could not be made); an error talking to the server is
// returned.
func runChecks(ctx context.Context, conn *pgx.Conn, dc *plugins.DatabaseChecks, tables []plugins.Table, probs *restoreevents.Problems) ([]plugins.Check, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var checks []plugins.Check
	if len(dc.Tables) > 0 {
		c, err := checkTables(ctx, tx, dc.Tables)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	if len(dc.MinRows) > 0 {
		c, err := checkMinRows(ctx, tx, dc.MinRows, tables)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	for _, sc := range dc.SQL {
		exp, err := dbcheck.ParseExpect(sc.Expect)
		if err != nil {
			probs.Add(plugins.ProblemError, "", fmt.Sprintf("sql check %s: %v", dbcheck.Query(sc.Query), err))
			continue
		}
		c, err := checkSQL(ctx, tx, sc.Query, exp)
		if err != nil {
			return nil, err
		}
		if sc.Name != "" {
			c.Name = "sql " + sc.Name
		}
		c.Detail = dbcheck.Detail(sc.Name, sc.Query, c.Detail)
		checks = append(checks, c)
	}
	return checks, nil
}

const tableExistsSQL = `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`

func tableExists(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	schema, table := splitTable(name)
	var ok bool
	if err := tx.QueryRow(ctx, tableExistsSQL, schema, table).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return ok, nil
}

func checkTables(ctx context.Context, tx pgx.Tx, names []string) (plugins.Check, error) {
	var missing []string
	for _, n := range names {
		ok, err := tableExists(ctx, tx, n)
		if err != nil {
			return plugins.Check{}, err
		}
		if !ok {
			missing = append(missing, n)
		}
	}
	c := plugins.Check{Name: "tables", OK: len(missing) == 0}
	if c.OK {
		c.Detail = fmt.Sprintf("all %d tables exist: %s", len(names), strings.Join(names, ", "))
	} else {
		c.Detail = fmt.Sprintf("%d of %d tables missing: %s", len(missing), len(names), strings.Join(missing, ", "))
	}
	return c, nil
}

func checkMinRows(ctx context.Context, tx pgx.Tx, minRows map[string]int64, tables []plugins.Table) (plugins.Check, error) {
	// The fingerprints counted every table already, in the same database
	// that nothing else writes to.
	counted := make(map[string]int64, len(tables))
	for _, t := range tables {
		counted[t.Name] = t.Rows
	}
	names := make([]string, 0, len(minRows))
	for n := range minRows {
		names = append(names, n)
	}
	sort.Strings(names)
	var good, bad []string
	for _, n := range names {
		want := minRows[n]
		ok, err := tableExists(ctx, tx, n)
		if err != nil {
			return plugins.Check{}, err
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no such table, at least %d rows expected", n, want))
			continue
		}
		schema, table := splitTable(n)
		rows, ok := counted[schema+"."+table]
		if !ok {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, table}.Sanitize()).Scan(&rows); err != nil {
				return plugins.Check{}, fmt.Errorf("count the rows of %s: %w", n, err)
			}
		}
		if rows < want {
			bad = append(bad, fmt.Sprintf("%s: %d rows, at least %d expected", n, rows, want))
		} else {
			good = append(good, fmt.Sprintf("%s: %d rows, at least %d expected", n, rows, want))
		}
	}
	if len(bad) > 0 {
		return plugins.Check{Name: "min_rows", Detail: strings.Join(bad, "; ")}, nil
	}
	return plugins.Check{Name: "min_rows", OK: true, Detail: strings.Join(good, "; ")}, nil
}

// checkSQL runs one query in a savepoint, so that a failing query leaves
// the transaction usable, and compares its one value with exp. The
// extended protocol runs a single statement only. The check's Detail says
// what the query returned, without the query (dbcheck.Detail adds it).
func checkSQL(ctx context.Context, tx pgx.Tx, query string, exp dbcheck.Expect) (plugins.Check, error) {
	label := dbcheck.Query(query)
	c := plugins.Check{Name: "sql"}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return c, fmt.Errorf("sql check %s: %w", label, err)
	}
	defer sp.Rollback(context.WithoutCancel(ctx))
	rr := sp.Conn().PgConn().ExecParams(ctx, query, nil, nil, nil, []int16{pgx.TextFormatCode})
	cols := len(rr.FieldDescriptions())
	var value []byte
	var null bool
	n := 0
	for rr.NextRow() {
		n++
		if n == 1 && cols == 1 {
			v := rr.Values()[0]
			null = v == nil
			value = append([]byte(nil), v...)
		}
	}
	if _, err := rr.Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			c.Detail = pe.Message
			return c, nil
		}
		return c, fmt.Errorf("sql check %s: %w", label, err)
	}
	switch {
	case cols != 1:
		c.Detail = fmt.Sprintf("returned %d columns, expected one row of one column", cols)
	case n != 1:
		c.Detail = fmt.Sprintf("returned %d rows, expected one row of one column", n)
	default:
		c.OK, c.Detail = exp.Match(string(value), !null)
	}
	return c, nil
}

// unforceRowSecurity lets the scratch role see every row of the tables it
// owns. Row-level security binds a table's owner only where the dump says
// FORCE ROW LEVEL SECURITY; the restore, the fingerprints and the checks
// run as the scratch role (the owner, never a superuser who would bypass
// the policies), so without this such a table would be counted and
// fingerprinted as a policy lets its owner see it, not as it was backed
// up. The scratch database is the drill's own: this changes no data.
func unforceRowSecurity(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relforcerowsecurity AND c.relkind IN ('r', 'p') AND pg_has_role(c.relowner, 'USAGE')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("list tables with forced row-level security: %w", err)
	}
	names, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, table string
		err := row.Scan(&schema, &table)
		return pgx.Identifier{schema, table}, err
	})
	if err != nil {
		return fmt.Errorf("list tables with forced row-level security: %w", err)
	}
	for _, id := range names {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+id.Sanitize()+" NO FORCE ROW LEVEL SECURITY"); err != nil {
			return fmt.Errorf("let the scratch role read all of table %s (row-level security): %w", id.Sanitize(), err)
		}
	}
	return nil
}
