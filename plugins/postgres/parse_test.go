package postgres

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

func TestValidateSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  plugins.Source
		keys []string // keys of the problems, in order
	}{
		{"good", plugins.Source{"dump": "/b/*.dump", "server": "postgres://drill@db:5432/postgres", "jobs": int64(4)}, nil},
		{"unknown", plugins.Source{"dump": "/b/*.dump", "server": "postgres://drill@db/postgres", "database": "x"}, []string{"database"}},
		{"password", plugins.Source{"dump": "/b/*.dump", "server": "postgres://drill:hunter2@db/postgres"}, []string{"server"}},
		{"password param", plugins.Source{"dump": "/b/*.dump", "server": "postgres://drill@db/postgres?password=hunter2"}, []string{"server"}},
		{"not a url", plugins.Source{"dump": "/b/*.dump", "server": "host=db user=drill"}, []string{"server"}},
		{"missing", plugins.Source{}, []string{"dump", "server"}},
		{"relative", plugins.Source{"dump": "b/*.dump", "server": "postgres://db"}, []string{"dump"}},
		{"bad glob", plugins.Source{"dump": "/b/[", "server": "postgres://db"}, []string{"dump"}},
		{"jobs", plugins.Source{"dump": "/b/x", "server": "postgres://db", "jobs": int64(0)}, []string{"jobs"}},
		{"jobs type", plugins.Source{"dump": "/b/x", "server": "postgres://db", "jobs": "2"}, []string{"jobs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := New().ValidateSource(t.Context(), &plugins.ValidateSourceRequest{Source: tc.src})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, p := range resp.Problems {
				keys = append(keys, p.Key)
				if strings.Contains(p.Message, "hunter2") {
					t.Errorf("problem shows the password: %s", p.Message)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
				t.Errorf("problem keys %v, want %v (%+v)", keys, tc.keys, resp.Problems)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://drill@db:5432/postgres":               "postgres://drill@db:5432/postgres",
		"postgres://drill:hunter2@db:5432/postgres":       "postgres://drill:***@db:5432/postgres",
		"postgres://drill@db/postgres?password=hunter2":   "postgres://drill@db/postgres?password=%2A%2A%2A",
		"postgres://drill:hun%zzter2@db/x":                "postgres://***@db/x",
		"postgresql://u:p@[::1]:5432/postgres?sslmode=no": "postgresql://u:***@[::1]:5432/postgres?sslmode=no",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSidecar(t *testing.T) {
	sum := strings.Repeat("0a", 32)
	for _, tc := range []struct {
		data, err string
	}{
		{sum + "  db.dump\n", ""},
		{sum + " *db.dump\r\n", ""},
		{sum + "  /backups/db.dump\n" + strings.Repeat("0b", 32) + "  other\n", ""},
		{sum + "  other.dump\n", "no line for db.dump"},
		{"xyz  db.dump\n", "not a SHA-256"},
		{sum + "db.dump\n", "not in sha256sum format"},
		{sum + "  db.dump\n" + sum + "  db.dump\n", "twice"},
		{"", "no line"},
	} {
		got, err := parseSidecar([]byte(tc.data), "db.dump")
		switch {
		case tc.err == "" && (err != nil || len(got) != 32 || got[0] != 0x0a):
			t.Errorf("parseSidecar(%q) = %x, %v", tc.data, got, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseSidecar(%q): %v, want %q", tc.data, err, tc.err)
		}
	}
}

func TestDetectBytes(t *testing.T) {
	tarHead := make([]byte, 512)
	copy(tarHead, "toc.dat")
	copy(tarHead[257:], "ustar")
	otherTar := make([]byte, 512)
	copy(otherTar, "etc/passwd")
	copy(otherTar[257:], "ustar")
	for _, tc := range []struct {
		name string
		head []byte
		want format
	}{
		{"custom", []byte("PGDMP\x01\x0e\x00"), formatCustom},
		{"tar", tarHead, formatTar},
		{"other tar", otherTar, ""},
		{"plain", []byte("--\n-- PostgreSQL database dump\n--\n"), formatPlain},
		{"cut rune", []byte("-- caf\xc3"), formatPlain},
		{"binary", []byte{0x89, 'P', 'N', 'G', 0}, ""},
		{"latin1", []byte("caf\xe9 au lait\n"), ""},
		{"empty", nil, ""},
	} {
		got, err := detectBytes(tc.head)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: detectBytes = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// statements splits sql with a splitter and returns the statements'
// texts (trimmed) and kinds, or the error that stopped it.
func statements(sql string) ([]string, []stmtKind, error) {
	sp := newSplitter(strings.NewReader(sql))
	var texts []string
	var kinds []stmtKind
	for {
		s, err := sp.next()
		if errors.Is(err, io.EOF) {
			return texts, kinds, nil
		}
		if err != nil {
			return texts, kinds, err
		}
		texts = append(texts, strings.TrimSpace(string(s.text)))
		kinds = append(kinds, s.kind)
		if s.kind == kindCopy && strings.Contains(s.head, "FROM STDIN") {
			// As if the server asked for the data.
			if err := sp.copyData(s, 4, func([]byte) error { return nil }); err != nil {
				return texts, kinds, err
			}
		}
	}
}

func TestSplitter(t *testing.T) {
	for _, tc := range []struct {
		name, sql, err string
		n              int
	}{
		{"plain", "\\restrict abc\nSET x = 1;\nCOPY public.t (a) FROM stdin;\n\\N\n\\connect in data\n\\.\n\\unrestrict abc\n", "", 2},
		{"connect", "SET x = 1;\n\\connect prod\nDROP TABLE t;\n", `line 2 runs the psql meta-command \connect prod`, 1},
		{"shell", "SELECT 1;\n  \\! rm -rf /\n", `line 2 runs the psql meta-command \! rm -rf /`, 1},
		{"after copy", "COPY t (a) FROM stdin;\n1\n\\.\n\\o /tmp/x\n", `line 4`, 1},
		{"restrict mid statement", "SELECT\n\\restrict x\n1;\n", `line 2 runs the psql meta-command \restrict x`, 0},
		{"copy cut short", "COPY t (a) FROM stdin;\n1\n", `line 2: the dump ends inside COPY data`, 1},
		{"copy data on its line", "COPY t (a) FROM stdin; SELECT 1;\n1\n\\.\n", `COPY data must start on the line after`, 1},
		{"empty statements", ";\n-- x\n;;SELECT 1;\n/* c */;\nSELECT 2", "", 2},
		{"semicolons in literals", "SELECT ';', $a$ ; $a$, \"x;y\" FROM t; -- ;\nSELECT E'\\';';", "", 2},
	} {
		texts, _, err := statements(tc.sql)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
		if len(texts) != tc.n {
			t.Errorf("%s: statements %q, want %d", tc.name, texts, tc.n)
		}
	}
}

// Owner and privilege statements are left out of plain dumps, as
// pg_restore --no-owner --no-privileges leaves them out of archives; the
// same words in COPY data are data.
func TestSplitterKinds(t *testing.T) {
	in := "CREATE TABLE public.t (a text);\n" +
		"ALTER TABLE public.t OWNER TO app;\n" +
		"ALTER SCHEMA billing OWNER TO finance;\n" +
		"COPY public.t (a) FROM stdin;\nGRANT ALL ON t TO x;\n\\.\n" +
		"GRANT SELECT ON TABLE public.t TO reporting;\n" +
		"REVOKE ALL ON SCHEMA public FROM PUBLIC;\n" +
		"ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (a);\n" +
		"COMMENT ON EXTENSION plpgsql IS 'x';\nSET search_path = '';\n"
	_, kinds, err := statements(in)
	want := []stmtKind{kindBatch, kindOwner, kindOwner, kindCopy, kindPrivilege, kindPrivilege, kindBatch, kindAlone, kindEndBatch}
	if err != nil || !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, %v; want %v", kinds, err, want)
	}
}

func TestVersions(t *testing.T) {
	toc := ";\n; Archive created at 2026-01-01\n;     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)\n;     Dumped by pg_dump version: 15.20 (Debian 15.20-0+deb12u1)\n;\n"
	if got := tocVersion([]byte(toc)); got != "15.20 (Debian 15.20-0+deb12u1)" {
		t.Errorf("tocVersion = %q", got)
	}
	plain := "--\n-- Dumped from database version 16.2\n-- Dumped by pg_dump version 16.3\n\nSET x = 1;\n"
	if got := plainVersion([]byte(plain)); got != "16.3" {
		t.Errorf("plainVersion = %q", got)
	}
}

func TestIsDiskFull(t *testing.T) {
	for msg, want := range map[string]bool{
		`pg_restore: error: could not execute query: ERROR:  could not extend file "base/1/2": No space left on device`: true,
		`psql:<stdin>:5: ERROR:  relation "quota" does not exist`:                                                       false,
		"pg_restore: error: could not read from input file: end of file":                                                false,
	} {
		if got := isDiskFull(msg); got != want {
			t.Errorf("isDiskFull(%q) = %v", msg, got)
		}
	}
}
