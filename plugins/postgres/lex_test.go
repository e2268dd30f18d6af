package postgres

import (
	"slices"
	"strings"
	"testing"
)

// metaOffsets feeds sql to a new lexer in pieces of n bytes (0: whole)
// and returns where meta-commands start.
func metaOffsets(sql string, n int) []int {
	l := newSQLLexer()
	var out []int
	b := []byte(sql)
	for base := 0; base < len(b); {
		end := len(b)
		if n > 0 {
			end = min(base+n, len(b))
		}
		piece := b[base:end]
		for off := 0; off < len(piece); {
			i := l.scan(piece[off:])
			if i < 0 {
				break
			}
			out = append(out, base+off+i)
			off += i + 1
		}
		base = end
	}
	return out
}

func TestSQLLexer(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		metas     int // meta-commands psql would run
	}{
		{"string", `INSERT INTO t VALUES ('a\b', 'it''s \x');` + "\n", 0},
		{"escape string", `SELECT E'it\'s \\', E'\\'` + ";\n\\! ls\n", 1},
		{"not an escape string", `SELECT xE'\';` + "\n\\! ls\n", 1},
		{"identifier", `CREATE TABLE "a\b""c" (x int);` + "\n", 0},
		{"dollar body", "CREATE FUNCTION f() RETURNS text AS $$\n\\connect x\n$$ LANGUAGE sql;\n", 0},
		{"tagged body", "AS $fn$ $$ \\! $ $f $fn \n\\connect $fn$;\n\\! ls\n", 1},
		{"positional", "PREPARE p AS SELECT $1;\n\\! ls\n", 1},
		{"identifier dollar", "SELECT a$b$ FROM t; \\! ls\n", 1},
		{"line comment", "-- \\connect x\nSELECT 1; -- \\! y\n", 0},
		{"block comment", "/* a /* nested \\! */ \\o */ SELECT 1;\n", 0},
		{"mid line", "SELECT 1; \\! rm -rf /\n", 1},
		{"two on a line", "\\restrict k \\! ls\n", 2},
		{"division", "SELECT 4/2 - 1;\n\\o x\n", 1},
	} {
		want := metaOffsets(tc.sql, 0)
		if len(want) != tc.metas {
			t.Errorf("%s: meta-commands at %v, want %d", tc.name, want, tc.metas)
			continue
		}
		for n := 1; n < 8; n++ {
			if got := metaOffsets(tc.sql, n); !slices.Equal(got, want) {
				t.Errorf("%s: in pieces of %d: meta-commands at %v, want %v", tc.name, n, got, want)
			}
		}
	}
}

// TestSplitterFollowsLiterals: what stands inside a literal is text (it
// is not skipped and ends no statement), what stands outside is SQL,
// wherever in a line.
func TestSplitterFollowsLiterals(t *testing.T) {
	body := "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $_$\n" +
		"GRANT ALL ON t TO x;\nALTER TABLE t OWNER TO y;\nCOPY t FROM stdin;\n\\connect other\n$_$;\n"
	texts, kinds, err := statements(body)
	if err != nil || len(texts) != 1 || texts[0] != strings.TrimSpace(body) || kinds[0] != kindBatch {
		t.Errorf("a function body: %q %v, %v; want it whole", texts, kinds, err)
	}
	// COPY inside the body did not start COPY data: the \! after it is
	// a meta-command.
	if _, _, err := statements(body + "\\! ls\n"); err == nil || !strings.Contains(err.Error(), `line 7 runs the psql meta-command \! ls`) {
		t.Errorf("a meta-command after a body: %v", err)
	}
	if _, _, err := statements("SET x = 1; \\o /tmp/x\n"); err == nil || !strings.Contains(err.Error(), `line 1 runs the psql meta-command \o /tmp/x`) {
		t.Errorf("a meta-command after a statement: %v", err)
	}
}

func FuzzSQLLexerPieces(f *testing.F) {
	f.Add("SELECT E'\\'' $a$ \\ $a$ /* /* */ */ -- x\n\\! y\n", 3)
	f.Fuzz(func(t *testing.T, sql string, n int) {
		n = 1 + (n&0xff)%16
		if got, want := metaOffsets(sql, n), metaOffsets(sql, 0); !slices.Equal(got, want) {
			t.Errorf("in pieces of %d: %v, whole: %v", n, got, want)
		}
	})
}
