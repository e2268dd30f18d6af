package postgres

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drillhq/drill/plugins"
)

// TestServerMessageNames: the error of a dump pg_dump wrote names what
// to fix (`pg_dump -t app.users` leaves out the schema app, so the
// restore says schema "app" does not exist), in plain and archive
// formats; a value quoted in an error stays hidden, also one that
// looks like a name.
func TestServerMessageNames(t *testing.T) {
	src := liveDB(t)
	conn, err := pgx.Connect(t.Context(), "postgres://postgres@127.0.0.1:5432/"+src)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY, name text); INSERT INTO app.users VALUES (1, 'ann')"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, format := range []string{"p", "c"} {
		t.Run("pg_dump -F"+format+" -t app.users", func(t *testing.T) {
			dump := filepath.Join(dir, "users."+format)
			if out, err := exec.Command("pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-F"+format, "-t", "app.users", "-f", dump, src).CombinedOutput(); err != nil {
				t.Fatalf("pg_dump: %v\n%s", err, out)
			}
			resp, _, err := restoreOnce(t, New(), sourceFor(dump), nil)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			ps := problems(resp.Problems, plugins.ProblemFail)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, `schema "app" does not exist`) {
				t.Fatalf("problems %+v, want one fail naming the schema", resp.Problems)
			}
		})
	}
	t.Run("value", func(t *testing.T) {
		const secret = "S3cretTokenXYZ"
		plain := filepath.Join(dir, "users.p")
		data, err := os.ReadFile(plain)
		if err != nil {
			t.Fatal(err)
		}
		// The dump's own header, then a COPY row whose value, quoted by
		// the server, reads like a name.
		head, _, _ := strings.Cut(string(data), "SET ")
		sql := head + "CREATE TABLE x (a int);\nCOPY x (a) FROM stdin;\n1\" relation \"" + secret + "\n\\.\n"
		resp, err := restoreSQL(t, sql)
		if err != nil {
			t.Fatal(err)
		}
		ps := problems(resp.Problems, plugins.ProblemFail)
		if len(ps) != 1 || strings.Contains(strings.ToLower(ps[0].Message), strings.ToLower(secret)) || !strings.Contains(ps[0].Message, "invalid input syntax") {
			t.Fatalf("problems %+v, want one fail without the value", resp.Problems)
		}
	})
}

func TestQuietMessage(t *testing.T) {
	for _, tt := range []struct {
		in    string
		names bool
		want  string
	}{
		{`schema "app" does not exist`, true, `schema "app" does not exist`},
		{`schema "app" does not exist`, false, `schema "…" does not exist`},
		{`null value in column "id" of relation "users" violates not-null constraint`, true, `null value in column "id" of relation "users" violates not-null constraint`},
		{`duplicate key value violates unique constraint "users_pkey"`, true, `duplicate key value violates unique constraint "users_pkey"`},
		{`invalid input syntax for type integer: "secret"`, true, `invalid input syntax for type integer: "…"`},
		{`invalid input syntax for type integer: "1" relation "secret"`, true, `invalid input syntax for type integer: "…" relation "…"`},
		{`syntax error at or near "secret"`, true, `syntax error`},
		{`could not open file "/etc/secret": No such file`, true, `could not open file "…": No such file`},
	} {
		if got := quietMessage(tt.in, tt.names); got != tt.want {
			t.Errorf("quietMessage(%q, %v) = %q, want %q", tt.in, tt.names, got, tt.want)
		}
	}
}

// TestServerMessageEscaped: a name shown is escaped and the message
// bounded, whatever the name holds.
func TestServerMessageEscaped(t *testing.T) {
	e := &pgconn.PgError{Code: "3F000", Message: "schema \"a\n\u202eb" + strings.Repeat("x", 2000) + "\" does not exist"}
	got := serverMessage(e, true)
	if !strings.Contains(got, `schema "a\n\u202eb`) || len(got) > maxMessageBytes+len("…") {
		t.Errorf("serverMessage = %q (%d bytes), want the name escaped and at most %d bytes", got, len(got), maxMessageBytes)
	}
}
