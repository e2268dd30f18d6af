package config

import (
	"strings"
	"testing"
)

// TestParseErrors feeds configs with mistakes to Parse and compares every
// problem it reports, in order, as "line:col: path: msg".
func TestParseErrors(t *testing.T) {
	const secretHelp = "use password_file, password_command or the backend's environment variables"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "empty file",
			yaml: "",
			want: []string{"empty config: want a mapping with keys such as services and drills"},
		},
		{
			name: "only comments",
			yaml: "# nothing yet\n",
			want: []string{"empty config: want a mapping with keys such as services and drills"},
		},
		{
			name: "null document",
			yaml: "---\n",
			want: []string{"2:1: empty config: want a mapping with keys such as services and drills"},
		},
		{
			name: "top level is a list",
			yaml: "- drills\n",
			want: []string{"1:1: want a mapping at the top level, got a list"},
		},
		{
			name: "top level is a string",
			yaml: "drills\n",
			want: []string{`1:1: want a mapping at the top level, got "drills"`},
		},
		{
			name: "syntax error",
			yaml: "state_dir: /x\n socket: /y\n",
			want: []string{"2: invalid YAML: mapping values are not allowed in this context"},
		},
		{
			name: "tab indentation",
			yaml: "services:\n\tbilling: {}\n",
			want: []string{"2: invalid YAML: found character that cannot start any token"},
		},
		{
			name: "two documents",
			yaml: "services: {}\n---\ndrills: {}\n",
			want: []string{"2:1: more than one YAML document: a config file is one document (remove the second ---)"},
		},
		{
			name: "unknown key at top level",
			yaml: "state_dir: /x\nstat_dir: /y\n",
			want: []string{`2:1: unknown key "stat_dir" (allowed: catch_up, drills, jitter, log_origin, max_concurrent, max_scratch_bytes, metrics_listen, notify, plugins, require_sandbox, services, socket, socket_group, stall_timeout, state_dir, stop_timeout)`},
		},
		{
			name: "agent keys",
			yaml: `jitter: -5m
catch_up: yes
stop_timeout: 0s
socket_group: ""
services: {s: {}}
drills:
  d: {service: s, backend: x, source: {a: b}, jitter: soon, catch_up: 1}
log_origin: "a b"
`,
			want: []string{
				`1:9: jitter: want a duration such as 10m, or 0, got "-5m"`,
				`2:11: catch_up: want true or false, got "yes"`,
				`3:15: stop_timeout: want a duration longer than 0, got "0s"`,
				`4:15: socket_group: must not be empty`,
				`7:55: drills.d.jitter: want a duration such as 10m, or 0, got "soon"`,
				`7:71: drills.d.catch_up: want true or false, got 1`,
				`8:13: log_origin: invalid log_origin "a b": want a name such as backup1.example.org/drill (no spaces or '+', at most 255 bytes)`,
			},
		},
		{
			name: "stall_timeout",
			yaml: `stall_timeout: -5m
services: {s: {}}
drills:
  a: {service: s, backend: x, source: {a: b}, stall_timeout: off}
  b: {service: s, backend: x, source: {a: b}, timeout: 1h, stall_timeout: 1h}
  c: {service: s, backend: x, source: {a: b}, stall_timeout: 7h}
  d: {service: s, backend: x, source: {a: b}, stall_timeout: 0, timeout: 1m}
`,
			want: []string{
				`1:16: stall_timeout: want a duration such as 10m, or 0, got "-5m"`,
				`4:62: drills.a.stall_timeout: want a duration such as 10m, or 0, got "off"`,
				`5:75: drills.b.stall_timeout: stall_timeout 1h is not shorter than the drill's timeout of 1h, so it could never fire: shorten it, or set it to 0 to turn the stall detector off`,
				`6:62: drills.c.stall_timeout: stall_timeout 7h is not shorter than the drill's timeout of 6h (the default), so it could never fire: shorten it, or set it to 0 to turn the stall detector off`,
			},
		},
		{
			name: "notify targets",
			yaml: `notify:
  - webhook: ftp://x/y
  - command: [notify-send]
  - {webhook: "https://u:pw@hooks.example.org/x", command: [/bin/true]}
  - {}
services: {s: {}}
drills:
  d: {service: s, backend: x, source: {a: b}, healthcheck: "hc-ping.com/abc", restore_point: {random_within: soon, newest: true}}
`,
			want: []string{
				`2:14: notify[0].webhook: want an http or https URL, got "ftp://x/y"`,
				`3:14: notify[1].command: want the command as an absolute path, got "notify-send"`,
				`4:5: notify[2]: want exactly one of webhook and command`,
				`4:15: notify[2].webhook: the URL holds a password; secrets are never written in the config: use password_file, password_command or the backend's environment variables`,
				`5:5: notify[3]: want exactly one of webhook and command`,
				`8:60: drills.d.healthcheck: want an http or https URL, got "hc-ping.com/abc"`,
				`8:110: drills.d.restore_point.random_within: want a duration such as 24h or 7d, got "soon"`,
				`8:116: drills.d.restore_point: unknown key "newest" (allowed: random_within)`,
			},
		},
		{
			name: "unknown key in a drill",
			yaml: `services:
  billing: {}
drills:
  db:
    service: billing
    schedul: "@daily"
    backend: postgres
    source: {dump: /x}
`,
			want: []string{`6:5: drills.db: unknown key "schedul" (allowed: backend, catch_up, checks, description, healthcheck, jitter, require_sandbox, restore_point, sample, schedule, service, source, stall_timeout, timeout)`},
		},
		{
			name: "unknown keys in checks, a service, a plugin and an sql check",
			yaml: `plugins:
  borg: {path: /bin/borg, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, env: {A: b}}
services:
  billing: {owner: me, rpo_: 1d}
drills:
  db:
    service: billing
    backend: postgres
    source: {dump: /x}
    checks:
      min_file: 10
      tables: [a]
      sql: [{name: n, query: q, expect: "= 1", timeout: 1m}]
`,
			want: []string{
				`2:101: plugins.borg: unknown key "env" (allowed: args, path, sha256)`,
				`4:24: services.billing: unknown key "rpo_" (allowed: description, owner, priority, review_every, rpo, rto)`,
				`11:7: drills.db.checks: unknown key "min_file" (allowed: manifest, min_bytes, min_files, min_rows, paths, sql, tables)`,
				`13:48: drills.db.checks.sql[0]: unknown key "timeout" (allowed: expect, name, query)`,
			},
		},
		{
			name: "wrong types",
			yaml: `max_concurrent: many
max_scratch_bytes: 20 gigs
metrics_listen: 9464
services:
  billing:
    priority: high
    rpo: 3600
    review_every: [7d]
drills:
  db:
    service: billing
    backend: postgres
    timeout: soon
    source: {dump: /x}
    checks: {min_files: lots, paths: home, tables: [a, [b]], min_bytes: 1e9}
`,
			want: []string{
				`1:17: max_concurrent: want an integer, got "many"`,
				`2:20: max_scratch_bytes: want a size such as 200GiB or 512MiB, got "20 gigs"`,
				`3:17: metrics_listen: want host:port such as 127.0.0.1:9464, or "" for no metrics endpoint, got 9464`,
				`6:15: services.billing.priority: want an integer, got "high"`,
				`7:10: services.billing.rpo: want a duration such as 24h or 7d, got 3600`,
				`8:19: services.billing.review_every: want a duration such as 24h or 7d, got a list`,
				`13:14: drills.db.timeout: want a duration such as 24h or 7d, got "soon"`,
				`15:25: drills.db.checks.min_files: want an integer, got "lots"`,
				`15:38: drills.db.checks.paths: want a list of strings, got "home"`,
				`15:56: drills.db.checks.tables[1]: want a string, got a list`,
				`15:73: drills.db.checks.min_bytes: want a size such as 200GiB or 512MiB, got 1e9`,
			},
		},
		{
			name: "quoted number is not an integer, float is not an integer",
			yaml: "max_concurrent: \"2\"\nservices: {s: {priority: 1.5}}\n",
			want: []string{
				`1:17: max_concurrent: want an integer, got "2"`,
				`2:26: services.s.priority: want an integer, got 1.5`,
			},
		},
		{
			name: "out of range values",
			yaml: `max_concurrent: 0
max_scratch_bytes: 8388608TiB
services:
  s: {priority: 0, rpo: 0s, rto: -1h}
drills:
  d: {service: s, backend: x, source: {}, timeout: 0m, checks: {min_files: -1}}
`,
			want: []string{
				`1:17: max_concurrent: want at least 1, got 0`,
				`2:20: max_scratch_bytes: size "8388608TiB" is too large`,
				`4:17: services.s.priority: want at least 1, got 0`,
				`4:25: services.s.rpo: want a duration longer than 0, got "0s"`,
				`4:34: services.s.rto: want a duration such as 24h or 7d, got "-1h"`,
				`6:52: drills.d.timeout: want a duration longer than 0, got "0m"`,
				`6:76: drills.d.checks.min_files: want at least 0, got -1`,
			},
		},
		{
			name: "unknown service",
			yaml: `services:
  billing: {}
  fileserver: {}
drills:
  db:
    service: billng
    backend: postgres
    source: {dump: /x}
`,
			want: []string{`6:14: drills.db.service: unknown service "billng" (defined: billing, fileserver)`},
		},
		{
			name: "no services at all",
			yaml: "drills:\n  db: {service: billing, backend: postgres, source: {dump: /x}}\n",
			want: []string{`2:17: drills.db.service: unknown service "billing" (no services are defined)`},
		},
		{
			name: "services of the wrong type are reported once, not again for each drill",
			yaml: "services: [billing]\ndrills:\n  db: {service: billing, backend: postgres, source: {dump: /x}}\n",
			want: []string{`1:11: services: want a mapping, got a list`},
		},
		{
			name: "duplicate keys",
			yaml: `services:
  billing: {}
  billing: {owner: me}
drills:
  db:
    service: billing
    backend: postgres
    source: {dump: /x, dump: /y}
    backend: mysql
`,
			want: []string{
				`3:3: services: duplicate key "billing" (first at line 2)`,
				`8:24: drills.db.source: duplicate key "dump" (first at line 8)`,
				`9:5: drills.db: duplicate key "backend" (first at line 7)`,
			},
		},
		{
			name: "inline secrets",
			yaml: `services: {billing: {}}
drills:
  db:
    service: billing
    backend: postgres
    source:
      dump: /x
      password: hunter2
      API_Token: abc123
      server: postgres://drill:hunter2@db/postgres
      servers: [postgres://a@db1/x, "postgres://b:hunter2@db2/x"]
      password_file: /etc/drill/pg.pass
      token_command: vault read
`,
			want: []string{
				`8:7: drills.db.source.password: secrets are never written in the config: ` + secretHelp,
				`9:7: drills.db.source.API_Token: secrets are never written in the config: ` + secretHelp,
				`10:15: drills.db.source.server: the URL holds a password; secrets are never written in the config: ` + secretHelp,
				`11:37: drills.db.source.servers[1]: the URL holds a password; secrets are never written in the config: ` + secretHelp,
			},
		},
		{
			name: "secret keys by suffix",
			yaml: `services: {s: {}}
drills:
  d:
    service: s
    backend: x
    source: {secret: a, client_secret: b, db_password: c, token: d, passwords: e, secretive: f}
`,
			want: []string{
				`6:14: drills.d.source.secret: secrets are never written in the config: ` + secretHelp,
				`6:25: drills.d.source.client_secret: secrets are never written in the config: ` + secretHelp,
				`6:43: drills.d.source.db_password: secrets are never written in the config: ` + secretHelp,
				`6:59: drills.d.source.token: secrets are never written in the config: ` + secretHelp,
			},
		},
		{
			name: "bad schedules",
			yaml: `services: {billing: {}}
drills:
  db:
    service: billing
    schedule: "70 3 * * *"
    backend: postgres
    source: {dump: /x}
  files:
    service: billing
    schedule: "@dialy"
    backend: restic
    source: {repository: /x}
  empty:
    service: billing
    schedule: ""
    backend: restic
    source: {repository: /x}
`,
			want: []string{
				`5:15: drills.db.schedule: invalid schedule "70 3 * * *": minute field "70": end of range (70) above maximum (59)`,
				`10:15: drills.files.schedule: invalid schedule "@dialy": unknown descriptor "@dialy" (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`,
				`15:15: drills.empty.schedule: invalid schedule "": empty schedule: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h`,
			},
		},
		{
			name: "invalid names",
			yaml: `plugins:
  My-Plugin: {path: /x, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
services:
  "Billing DB": {}
  _x: {}
drills:
  home/alice:
    service: _x
    backend: Restic
    source: {}
`,
			want: []string{
				`2:3: plugins: invalid plugin name "My-Plugin": ` + nameRule,
				`4:3: services: invalid service name "Billing DB": ` + nameRule,
				`5:3: services: invalid service name "_x": ` + nameRule,
				`7:3: drills: invalid drill name "home/alice": ` + nameRule,
				`9:14: drills.home/alice.backend: invalid backend name "Restic": ` + nameRule,
			},
		},
		{
			name: "missing required keys",
			yaml: `plugins:
  borg: {args: [x]}
services: {s: {}}
drills:
  empty: {}
  d:
    description: nothing else
    checks:
      sql:
        - {query: select 1}
`,
			want: []string{
				`2:3: plugins.borg: missing required key "path"`,
				`2:3: plugins.borg: missing required key "sha256"`,
				`5:3: drills.empty: missing required key "service"`,
				`5:3: drills.empty: missing required key "backend"`,
				`5:3: drills.empty: missing required key "source"`,
				`6:3: drills.d: missing required key "service"`,
				`6:3: drills.d: missing required key "backend"`,
				`6:3: drills.d: missing required key "source"`,
				`10:11: drills.d.checks.sql[0]: missing required key "expect"`,
			},
		},
		{
			name: "a key without a value",
			yaml: `services:
  billing:
drills:
  db:
    service: billing
    backend: postgres
    description:
    source:
`,
			want: []string{
				`2:11: services.billing: want a mapping, got nothing`,
				`7:17: drills.db.description: want a string, got nothing`,
				`8:12: drills.db.source: want a mapping, got nothing`,
			},
		},
		{
			name: "a drill indented one level too little",
			yaml: `services: {s: {}}
drills:
  db:
  service: s
  backend: postgres
`,
			want: []string{
				`3:6: drills.db: want a mapping, got nothing`,
				`4:12: drills.service: want a mapping, got "s"`,
				`5:12: drills.backend: want a mapping, got "postgres"`,
			},
		},
		{
			name: "odd keys, tags and nulls",
			yaml: `services:
  s: {owner: !me x}
  ? [a]
  : {}
  ~: {}
drills: null
`,
			want: []string{
				`2:14: services.s.owner: want a string, got a value tagged !me`,
				`3:5: services: want a name as key, got a list`,
				`5:3: services: want a name as key, got ~`,
				`6:9: drills: want a mapping, got null`,
			},
		},
		{
			name: "source values",
			yaml: `services: {s: {}}
drills:
  d:
    service: s
    backend: x
    source:
      nested: {a: b}
      list: [a, {b: c}, [d], ~]
      empty: ~
      tagged: !secret x
      big: 99999999999999999999999
      huge: !!int 99999999999999999999
`,
			want: []string{
				`7:15: drills.d.source.nested: source values must be scalars or lists, got a mapping`,
				`8:17: drills.d.source.list[1]: source lists must hold scalars, got a mapping`,
				`8:25: drills.d.source.list[2]: source lists must hold scalars, got a list`,
				`8:30: drills.d.source.list[3]: want a value, got nothing (leave the key out instead)`,
				`9:14: drills.d.source.empty: want a value, got nothing (leave the key out instead)`,
				`10:15: drills.d.source.tagged: unsupported YAML tag !secret`,
				`12:13: drills.d.source.huge: integer out of range`,
			},
		},
		{
			name: "plugin sha256 and checks details",
			yaml: `plugins:
  borg: {path: "", sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08, args: x}
services: {s: {}}
drills:
  d:
    service: s
    backend: borg
    source: {}
    checks:
      paths: ["", ok]
      manifest: ""
      min_rows: [invoices]
      sql: {name: n}
  e:
    service: s
    backend: borg
    source: {}
    checks:
      min_rows: {invoices: many}
      sql:
        - name: a
          query: select 1
          expect: ~ 1
        - name: a
          query: ""
          expect: "="
        - select 1
`,
			want: []string{
				`2:16: plugins.borg.path: must not be empty`,
				`2:28: plugins.borg.sha256: want the executable's SHA-256 as 64 lowercase hex digits (as sha256sum prints it), got "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"`,
				`2:100: plugins.borg.args: want a list of strings, got "x"`,
				`10:15: drills.d.checks.paths[0]: must not be empty`,
				`11:17: drills.d.checks.manifest: must not be empty`,
				`12:17: drills.d.checks.min_rows: want a mapping, got a list`,
				`13:12: drills.d.checks.sql: want a list of checks, each with query, expect and an optional name, got a mapping`,
				`19:28: drills.e.checks.min_rows.invoices: want an integer, got "many"`,
				`23:19: drills.e.checks.sql[0].expect: want an operator (>=, <=, !=, =, >, <) and a value such as ">= 1", got "~ 1"`,
				`24:17: drills.e.checks.sql[1].name: duplicate check name "a" (first at line 21)`,
				`25:18: drills.e.checks.sql[1].query: must not be empty`,
				`26:19: drills.e.checks.sql[1].expect: want an operator (>=, <=, !=, =, >, <) and a value such as ">= 1", got "="`,
				`27:11: drills.e.checks.sql[2]: want a mapping, got "select 1"`,
			},
		},
		{
			name: "bad merge keys",
			yaml: `services: {s: {}}
drills:
  a: &a {service: s, backend: x, source: {}, bogus: 1}
  b: {<<: *a, service: s}
  c: {<<: [*a, x], source: {}}
  d: {<<: 3, service: s, backend: x, source: {}}
`,
			want: []string{
				`3:46: drills.a: unknown key "bogus" (allowed: backend, catch_up, checks, description, healthcheck, jitter, require_sandbox, restore_point, sample, schedule, service, source, stall_timeout, timeout)`,
				`5:16: drills.c: merge key (<<) wants a mapping or a list of mappings, got "x"`,
				`6:11: drills.d: merge key (<<) wants a mapping or a list of mappings, got 3`,
			},
		},
		{
			name: "several problems at once, all reported in file order",
			yaml: `socket: ""
plugins:
  Borg:
    path: /usr/lib/drill/borg
    sha256: ABC
services:
  billing:
    priority: 0
    rto: 0s
drills:
  db:
    description: no service, no backend
  files:
    service: billing
    backend: restic
    source: {repository: {url: x}, tags: [a, {b: c}], snapshot: ~}
    checks:
      min_rows: {invoices: -1}
      sql:
        - name: a
          query: select 1
          expect: "~ 1"
        - name: a
          expect: "= 1"
        - select 1
`,
			want: []string{
				`1:9: socket: must not be empty`,
				`3:3: plugins: invalid plugin name "Borg": ` + nameRule,
				`5:13: plugins.Borg.sha256: want the executable's SHA-256 as 64 lowercase hex digits (as sha256sum prints it), got "ABC"`,
				`8:15: services.billing.priority: want at least 1, got 0`,
				`9:10: services.billing.rto: want a duration longer than 0, got "0s"`,
				`11:3: drills.db: missing required key "service"`,
				`11:3: drills.db: missing required key "backend"`,
				`11:3: drills.db: missing required key "source"`,
				`16:26: drills.files.source.repository: source values must be scalars or lists, got a mapping`,
				`16:46: drills.files.source.tags[1]: source lists must hold scalars, got a mapping`,
				`16:65: drills.files.source.snapshot: want a value, got nothing (leave the key out instead)`,
				`18:28: drills.files.checks.min_rows.invoices: want at least 0, got -1`,
				`22:19: drills.files.checks.sql[0].expect: want an operator (>=, <=, !=, =, >, <) and a value such as ">= 1", got "~ 1"`,
				`23:11: drills.files.checks.sql[1]: missing required key "query"`,
				`23:17: drills.files.checks.sql[1].name: duplicate check name "a" (first at line 20)`,
				`25:11: drills.files.checks.sql[2]: want a mapping, got "select 1"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse returned no error, want:\n%s", strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			errs, ok := err.(Errors) //nolint:errorlint // Parse returns Errors itself, unwrapped
			if !ok {
				t.Fatalf("Parse error is %T, want Errors", err)
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("Errors.Error() does not join the problems one per line:\n%s", err)
			}
			for _, secret := range []string{"hunter2", "abc123"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("errors show the secret %q:\n%s", secret, err)
				}
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "drill.yaml", Line: 12, Col: 5, Path: "drills.home.checks.min_files", Msg: `want an integer, got "lots"`}, `drill.yaml:12:5: drills.home.checks.min_files: want an integer, got "lots"`},
		{Error{File: "drill.yaml", Line: 12, Msg: "invalid YAML"}, "drill.yaml:12: invalid YAML"},
		{Error{File: "drill.yaml", Msg: "empty config"}, "drill.yaml: empty config"},
		{Error{Line: 3, Col: 1, Path: "socket", Msg: "must not be empty"}, "3:1: socket: must not be empty"},
		{Error{File: "drill.yaml", Col: 4, Path: "drills", Msg: "m"}, "drill.yaml: drills: m"}, // a column without a line means nothing
		{Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}
