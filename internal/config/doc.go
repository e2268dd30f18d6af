// Package config loads drill's YAML configuration file, strictly and
// totally: every key is known and type-checked, every problem is reported
// with its file, line, column and key path, all problems are reported
// together, and a config with any problem is refused as a whole.
//
// The file looks like this (see DESIGN.md, "Config (YAML)"):
//
//	state_dir: /var/lib/drill
//	socket: /run/drill/drill.sock
//	metrics_listen: 127.0.0.1:9464
//	max_concurrent: 1
//	max_scratch_bytes: 200GiB
//	socket_group: drill-operators      # members may use the agent's socket
//	stop_timeout: 1m                   # after SIGTERM, for cancelled drills to record themselves
//	jitter: 10m                        # each drill's runs start at a fixed offset within this
//	stall_timeout: 10m                 # a restore whose progress stands still this long is stopped (0: never)
//	catch_up: true                     # run once at start-up a drill that missed a run
//	require_sandbox: true              # refuse a drill whose plugin cannot confine itself (Landlock)
//	log_origin: bk1.example.org/drill  # the evidence log's origin (default <hostname>/drill)
//	plugins:
//	  borg:
//	    path: plugins/drill-borg          # relative to the config file's folder
//	    sha256: 0f3c...                   # 64 lowercase hex digits
//	    args: [--verbose]
//	services:
//	  billing: { owner: dba-team@example.org, priority: 1, rpo: 24h, rto: 4h, review_every: 7d }
//	drills:
//	  billing-db:
//	    service: billing
//	    schedule: "CRON_TZ=UTC 30 3 * * *"
//	    timeout: 2h
//	    backend: postgres
//	    source: { dump: "/backups/pg/billing-*.dump", server: "postgres://drill@127.0.0.1:5432/postgres" }
//	    checks:
//	      tables: [invoices]
//	      min_rows: { invoices: 1000 }
//	      sql:
//	        - { name: recent, query: "select count(*) from invoices where created > now() - interval '1 day'", expect: ">= 1" }
//	        - { query: "select count(*) from invoices", expect: ">= 1" }   # named "select count(*) from invoices"
//
// Defaults: state_dir /var/lib/drill, socket /run/drill/drill.sock, no
// metrics endpoint, max_concurrent 1, no scratch limit, the agent's own
// group on the socket, stop_timeout 1m, no jitter, catch_up true,
// require_sandbox false, stall_timeout 10m, service priority 3, drill
// timeout 6h, an sql check's name its query (SQLCheckName, numbered when
// taken). A drill without a schedule runs only on demand; jitter,
// catch_up, require_sandbox and stall_timeout may be
// set per drill too, where stall_timeout must be shorter than the drill's
// timeout.
//
// Relative paths in state_dir, socket, plugins.*.path and checks.manifest
// are resolved against the config file's folder. Source values are kept as
// written: only the backend knows which of its keys are paths.
//
// Secrets never go in the config: a source key named password, secret or
// token (or ending in _password, _secret or _token), or a URL with a
// password in it, is refused; use password_file, password_command or the
// backend's own environment variables. Error messages never repeat the
// values of such keys.
//
// YAML anchors, aliases and merge keys (<<) may be used to share settings
// between drills; keys written in a mapping override merged ones.
//
// Parsing is pure: it logs nothing and writes nothing, and Load only reads
// the one file.
package config
