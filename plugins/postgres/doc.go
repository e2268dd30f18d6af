// Package postgres is drill's backend for PostgreSQL dumps made by
// pg_dump: it restores the newest dump into a scratch database on a real
// server with the real client tools, fingerprints every table in the
// server, runs the drill's database checks there, and drops the scratch
// database in Cleanup.
//
// # Source
//
//   - dump (required): a glob of dump files, or of directories for
//     pg_dump -Fd. Every match is a restore point, newest mtime first; a
//     match ending in .sha256 is a sidecar, not a dump.
//   - server (required): a URL such as
//     postgres://drill@127.0.0.1:5432/postgres naming the server, the user
//     and a maintenance database to connect to for CREATE and DROP
//     DATABASE. A password in the URL is refused.
//   - password_file: a file holding the password. Without it, the
//     standard PGPASSFILE or ~/.pgpass applies.
//   - pg_restore_binary, psql_binary: the client tools (default: from
//     PATH).
//   - jobs: pg_restore --jobs for the custom and directory formats.
//
// # Restore
//
// When a sidecar <dump>.sha256 (sha256sum format) exists beside a dump
// file, the dump's SHA-256 is verified against it before anything is
// restored. The format is detected from the content, never the name:
// custom (PGDMP), directory (toc.dat), tar, plain SQL and gzip'd plain SQL.
// The archive formats are restored with pg_restore --exit-on-error
// --no-owner --no-privileges, plain SQL with psql -v ON_ERROR_STOP=1, fed
// on stdin; a plain dump that would run a psql meta-command other than
// those pg_dump writes for its own data (such as \connect, made by
// pg_dump --create, or \!) is refused before it reaches psql.
//
// The password reaches the client tools only through a temporary pgpass
// file (mode 0600, removed after use) named by PGPASSFILE, and pgx through
// its config; never an argument, never a log line.
package postgres
