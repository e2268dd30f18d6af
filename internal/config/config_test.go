package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", t.Name(), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// assertEqual compares with reflect.DeepEqual and shows both as JSON when
// they differ, which is easier to read than %#v of nested pointers.
func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("%s differs\n got: %s\nwant: %s", what, g, w)
}

// TestParseFull parses the example of DESIGN.md, with a plugin, a second
// service (the example's home-files drill names one) and a drill that uses
// the remaining keys.
func TestParseFull(t *testing.T) {
	got, err := Parse("/etc/drill/drill.yaml", readFixture(t, "drill.yaml"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		file:            "/etc/drill/drill.yaml",
		Path:            "/etc/drill/drill.yaml",
		Dir:             "/etc/drill",
		StateDir:        "/var/lib/drill",
		Socket:          "/run/drill/drill.sock",
		MetricsListen:   "127.0.0.1:9464",
		MaxConcurrent:   1,
		SocketGroup:     "drill-ops",
		StopTimeout:     2 * time.Minute,
		Jitter:          10 * time.Minute,
		StallTimeout:    20 * time.Minute,
		CatchUp:         true,
		RequireSandbox:  true,
		MaxScratchBytes: 200 << 30,
		Plugins: map[string]*Plugin{
			"borg": {
				Name:   "borg",
				Path:   "/etc/drill/plugins/drill-borg",
				SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				Args:   []string{"--log-level", "info"},
				Pos:    Pos{8, 3},
			},
		},
		Services: map[string]*Service{
			"billing": {
				Name:        "billing",
				Owner:       "dba-team@example.org",
				Priority:    1,
				RPO:         24 * time.Hour,
				RTO:         4 * time.Hour,
				ReviewEvery: 7 * 24 * time.Hour,
				Pos:         Pos{14, 3},
			},
			"fileserver": {
				Name:        "fileserver",
				Owner:       "ops@example.org",
				Description: "home directories",
				Priority:    DefaultPriority,
				Pos:         Pos{20, 3},
			},
		},
		Drills: map[string]*Drill{
			"billing-db": {
				Name:           "billing-db",
				Service:        "billing",
				Schedule:       "CRON_TZ=UTC 30 3 * * *",
				Timeout:        2 * time.Hour,
				Jitter:         10 * time.Minute,
				StallTimeout:   20 * time.Minute,
				CatchUp:        true,
				RequireSandbox: true,
				Backend:        "postgres",
				Source: &Source{
					Values: map[string]any{
						"dump":   "/backups/pg/billing-*.dump",
						"server": "postgres://drill@127.0.0.1:5432/postgres",
					},
					Pos:  map[string]Pos{"dump": {30, 21}, "server": {30, 59}},
					Pos0: Pos{30, 13},
				},
				Checks: Checks{
					Tables:  []string{"invoices"},
					MinRows: map[string]int64{"invoices": 1000},
					Pos:     map[string]Pos{"tables": {31, 15}, "min_rows": {31, 35}},
				},
				Pos: Pos{25, 3},
			},
			"home-files": {
				Name:           "home-files",
				Service:        "fileserver",
				Schedule:       "@daily",
				Timeout:        DefaultTimeout,
				Jitter:         10 * time.Minute,
				StallTimeout:   20 * time.Minute,
				CatchUp:        true,
				RequireSandbox: true,
				Backend:        "restic",
				Source: &Source{
					Values: map[string]any{
						"repository":    "/srv/restic",
						"password_file": "/etc/drill/restic.pass",
						"snapshot":      "latest",
					},
					Pos:  map[string]Pos{"repository": {36, 27}, "password_file": {36, 55}, "snapshot": {36, 89}},
					Pos0: Pos{36, 13},
				},
				Checks: Checks{
					MinFiles: 1000,
					Paths:    []string{"home/alice/docs"},
					Manifest: "/backups/home.sha256",
					Pos:      map[string]Pos{"min_files": {37, 15}, "paths": {37, 32}, "manifest": {37, 58}},
				},
				Pos: Pos{32, 3},
			},
			"archive": {
				Name:        "archive",
				Description: "monthly archive, run by hand",
				Service:     "fileserver",
				Timeout:     DefaultTimeout,
				Backend:     "borg",
				Source: &Source{
					Values: map[string]any{
						"repository":       "archive/repo", // not resolved: the backend knows its paths
						"read_data_subset": 2.5,
						"verify":           true,
						"keep":             int64(12),
						"tags":             []string{"monthly", "offsite"},
						"since":            "2024-01-01",
					},
					Pos: map[string]Pos{
						"repository": {43, 19}, "read_data_subset": {44, 25}, "verify": {45, 15},
						"keep": {46, 13}, "tags": {47, 13}, "since": {48, 14},
					},
					Pos0: Pos{43, 7},
				},
				Checks: Checks{
					MinBytes: 3 << 29,
					Manifest: "/etc/drill/manifests/archive.sha256",
					SQL: []SQLCheck{
						{Name: "recent", Query: "select count(*) from invoices where created > now() - interval '1 day'", Expect: ">= 1", Pos: Pos{53, 11}},
						{Name: "no-orphans", Query: "select count(*) from lines where invoice_id is null", Expect: "= 0", Pos: Pos{56, 11}},
					},
					Pos: map[string]Pos{"min_bytes": {50, 7}, "manifest": {51, 7}, "sql": {52, 7}},
				},
				Pos: Pos{38, 3},
			},
		},
	}
	assertEqual(t, "config", got, want)
	if names, want := got.DrillNames(), []string{"archive", "billing-db", "home-files"}; !reflect.DeepEqual(names, want) {
		t.Errorf("DrillNames() = %q, want %q", names, want)
	}
}

// TestParseDefaults checks what an almost empty config comes to.
func TestParseDefaults(t *testing.T) {
	got, err := Parse("", []byte("services: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		StateDir:      DefaultStateDir,
		Socket:        DefaultSocket,
		MaxConcurrent: 1,
		StopTimeout:   DefaultStopTimeout,
		StallTimeout:  DefaultStallTimeout,
		CatchUp:       true,
		Plugins:       map[string]*Plugin{},
		Services:      map[string]*Service{},
		Drills:        map[string]*Drill{},
	}
	assertEqual(t, "config", got, want)
	if names := got.DrillNames(); len(names) != 0 {
		t.Errorf("DrillNames() = %q, want none", names)
	}
}

// TestParseRelativePaths checks that paths are resolved against the config
// file's folder, even when the file is named relative to the working
// directory, and left alone without a file.
func TestParseRelativePaths(t *testing.T) {
	data := []byte(`state_dir: state
socket: ../run/drill.sock
plugins:
  x: {path: bin/x, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
services: {s: {}}
drills:
  d:
    service: s
    backend: x
    source: {path: data}
    checks: {manifest: ./m.sha256}
`)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file                                    string
		dir, stateDir, socket, plugin, manifest string
	}{
		{"/srv/drill/drill.yaml", "/srv/drill", "/srv/drill/state", "/srv/run/drill.sock", "/srv/drill/bin/x", "/srv/drill/m.sha256"},
		{"conf/drill.yaml", filepath.Join(wd, "conf"), filepath.Join(wd, "conf/state"), filepath.Join(wd, "run/drill.sock"), filepath.Join(wd, "conf/bin/x"), filepath.Join(wd, "conf/m.sha256")},
		{"", "", "state", "../run/drill.sock", "bin/x", "m.sha256"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.file, data)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.file, err)
		}
		got := []string{c.Dir, c.StateDir, c.Socket, c.Plugins["x"].Path, c.Drills["d"].Checks.Manifest, c.Drills["d"].Source.Values["path"].(string)}
		want := []string{tt.dir, tt.stateDir, tt.socket, tt.plugin, tt.manifest, "data"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q): Dir, StateDir, Socket, plugin path, manifest, source path =\n%q, want\n%q", tt.file, got, want)
		}
	}
}

// TestParseMerge checks that anchors, aliases and merge keys share
// settings, and that keys written in a mapping win over merged ones.
func TestParseMerge(t *testing.T) {
	data := []byte(`services: {s: {}, t: {}}
drills:
  a: &base
    service: s
    backend: restic
    timeout: 1h
    source: &src {repository: /srv/restic, password_file: /etc/p}
    checks: {min_files: 1}
  b:
    <<: *base
    service: t
  c:
    <<: [{timeout: 3h}, *base]
    source: {<<: *src, snapshot: latest}
`)
	c, err := Parse("", data)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Service, Backend string
		Timeout          time.Duration
		Source           map[string]any
		MinFiles         int64
	}
	sum := func(d *Drill) summary {
		return summary{d.Service, d.Backend, d.Timeout, d.Source.Values, d.Checks.MinFiles}
	}
	src := map[string]any{"repository": "/srv/restic", "password_file": "/etc/p"}
	for _, tt := range []struct {
		name string
		want summary
	}{
		{"a", summary{"s", "restic", time.Hour, src, 1}},
		{"b", summary{"t", "restic", time.Hour, src, 1}},
		{"c", summary{"s", "restic", 3 * time.Hour, map[string]any{"repository": "/srv/restic", "password_file": "/etc/p", "snapshot": "latest"}, 1}},
	} {
		assertEqual(t, "drill "+tt.name, sum(c.Drills[tt.name]), tt.want)
	}
}

func TestLoad(t *testing.T) {
	file := filepath.Join("testdata", "TestLoad", "drill.yaml")
	c, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != abs || c.Dir != filepath.Dir(abs) {
		t.Errorf("Path, Dir = %q, %q, want %q, %q", c.Path, c.Dir, abs, filepath.Dir(abs))
	}
	if want := filepath.Join(filepath.Dir(abs), "state"); c.StateDir != want {
		t.Errorf("StateDir = %q, want %q", c.StateDir, want)
	}
	// Errorf names the file as it was given.
	if got, want := c.Errorf(c.Drills["home"].Pos, "drills.home.source.repository", "no such repository %q", "/srv/x").Error(),
		file+`:5:3: drills.home.source.repository: no such repository "/srv/x"`; got != want {
		t.Errorf("Errorf = %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := filepath.Join("testdata", t.Name())

	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if got, want := err.Error(), filepath.Join(dir, "missing.yaml")+": read config: no such file or directory"; got != want {
		t.Errorf("Load(missing) error = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error %v is not fs.ErrNotExist", err)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Errorf("Load(missing) error %#v is not Errors of one", err)
	}

	file := filepath.Join(dir, "drill.yaml")
	c, err := Load(file)
	if c != nil {
		t.Errorf("Load(%s) returned a config with errors", file)
	}
	if !errors.As(err, &errs) {
		t.Fatalf("Load(%s) error %#v is not Errors", file, err)
	}
	want := []string{
		file + `:1:1: unknown key "stat_dir" (allowed: catch_up, drills, jitter, log_origin, max_concurrent, max_scratch_bytes, metrics_listen, notify, plugins, require_sandbox, services, socket, socket_group, stall_timeout, state_dir, stop_timeout)`,
		file + `:6:14: drills.home.service: unknown service "filesrv" (defined: fileserver)`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%s) errors:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var one *Error
	if !errors.As(err, &one) || one.File != file || one.Line != 1 || one.Col != 1 {
		t.Errorf("errors.As(*Error) = %+v, want the first problem", one)
	}
}

// TestParseMergeBomb checks that merge keys that multiply (each mapping
// merging the one before three times over) are cut off instead of taking
// exponential time.
func TestParseMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("services: {s: {}}\ndrills:\n  m0: &m0 {service: s, backend: x, source: {}}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "  m%d: &m%d {<<: [*m%d, *m%d, *m%d]}\n", i, i, i-1, i-1, i-1)
	}
	_, err := Parse("", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "merge keys (<<) bring in more than 100000 keys in all") {
		t.Errorf("Parse error = %v, want one about too many merged keys", err)
	}
}

// TestParseMergeDepth checks that merge keys nested deeper than mergeDepth
// are refused, once, where the merge too many is written.
func TestParseMergeDepth(t *testing.T) {
	var b strings.Builder
	b.WriteString("services: {s: {}}\ndrills:\n  m0: &m0 {service: s, backend: x, source: {}}\n")
	for i := 1; i <= mergeDepth+1; i++ {
		fmt.Fprintf(&b, "  m%d: &m%d {<<: *m%d}\n", i, i, i-1)
	}
	_, err := Parse("", []byte(b.String()))
	want := "4:16: drills.m17: merge keys (<<) nest too deeply (at most 16 levels)"
	if err == nil || !slices.Contains(strings.Split(err.Error(), "\n"), want) {
		t.Errorf("Parse error =\n%v\nwant among them: %s", err, want)
	}
}

// TestParseUnnamedSQLChecks parses sql checks written without a name, as
// DESIGN.md shows them (`sql: [{query: ..., expect: ...}]`): each is named
// after its query, on one line, shortened and escaped, and checks whose
// names would be the same are numbered, so results and reports tell them
// apart.
func TestParseUnnamedSQLChecks(t *testing.T) {
	long := "select count(*) from invoices where created > now() - interval '1 day' and paid"
	data := []byte(`services: {billing: {}}
drills:
  db:
    service: billing
    backend: postgres
    source: {dump: /backups/billing.dump}
    checks:
      sql: [{query: "select count(*) from invoices", expect: ">= 1"}]
  many:
    service: billing
    backend: postgres
    source: {dump: /backups/billing.dump}
    checks:
      sql:
        - query: |
            select count(*)
            from	lines
        - {query: "` + long + `", expect: ">= 1"}
        - {query: "` + long + ` is not true", expect: "= 0"}
        - {query: "select 1", expect: ">= 1"}
        - {query: "select 1", expect: "<= 1"}
        - {name: "select 2", query: "select 2", expect: "= 2"}
        - {query: "select 2", expect: "= 2"}
        - {query: "select '\e[2J' \u0085 ;", expect: "= 0"}
`)
	// The first check of "many" lacks expect: only that is reported.
	if _, err := Parse("", data); err == nil || err.Error() != `15:11: drills.many.checks.sql[0]: missing required key "expect"` {
		t.Fatalf("Parse error = %v, want only the missing expect", err)
	}
	data = []byte(strings.Replace(string(data), "from\tlines\n", "from\tlines\n          expect: \">= 1\"\n", 1))
	c, err := Parse("", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	names := func(d string) []string {
		var out []string
		for _, q := range c.Drills[d].Checks.SQL {
			out = append(out, q.Name)
		}
		return out
	}
	assertEqual(t, "db's check names", names("db"), []string{"select count(*) from invoices"})
	cut := "select count(*) from invoices where created > now() - inter…"
	assertEqual(t, "many's check names", names("many"), []string{
		"select count(*) from lines",
		cut,
		cut + " #2",
		"select 1",
		"select 1 #2",
		"select 2",
		"select 2 #2",
		`select '\x1b[2J' ;`,
	})
	if q := c.Drills["many"].Checks.SQL[2].Query; q != long+" is not true" {
		t.Errorf("the query itself is kept as written, got %q", q)
	}
}

func TestSQLCheckName(t *testing.T) {
	tests := []struct{ query, want string }{
		{"select 1", "select 1"},
		{"  select count(*)\n\tfrom t  ;\n", "select count(*) from t ;"},
		{strings.Repeat("x", 60), strings.Repeat("x", 60)},
		{strings.Repeat("x", 61), strings.Repeat("x", 59) + "…"},
		{strings.Repeat("é", 70), strings.Repeat("é", 59) + "…"},
		{strings.Repeat("x", 58) + " yz", strings.Repeat("x", 58) + "…"},
		{"select '\x1b]0;owned\x07'", `select '\x1b]0;owned\x07'`},
		{"select '\u202e'", `select '\u202e'`},
	}
	for _, tt := range tests {
		if got := SQLCheckName(tt.query); got != tt.want {
			t.Errorf("SQLCheckName(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}
