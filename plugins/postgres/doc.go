// Package postgres is drill's backend for PostgreSQL dumps made by
// pg_dump: it restores the newest dump into a scratch database on a real
// server, as a temporary role that can touch nothing else, fingerprints
// every table in the server, runs the drill's database checks there, and
// drops the scratch database and its role in Cleanup.
//
// # Source
//
//   - dump (required): a glob of dump files, or of directories for
//     pg_dump -Fd. Every match is a restore point, newest mtime first; a
//     match ending in .sha256 is a sidecar, not a dump.
//   - server (required): a URL such as
//     postgres://drill@127.0.0.1:5432/postgres naming the server, the
//     login and a maintenance database to connect to for CREATE and DROP
//     DATABASE. A password in the URL is refused. The login must be a
//     superuser or have CREATEROLE and CREATEDB; the restore checks it
//     first and says what to grant.
//   - password_file: a file holding the login's password. Without it,
//     the standard PGPASSFILE or ~/.pgpass applies to drill's own
//     connections.
//   - pg_restore_binary: the client tool for archives (default: from
//     PATH).
//   - psql_binary: deprecated and ignored (still accepted, so that older
//     configs load): plain dumps no longer go through psql.
//   - jobs: pg_restore --jobs for the custom and directory formats.
//
// # Least privilege
//
// Each restore creates a role of its own, named like its scratch
// database (scratchdb.Name, "drill_<drill>_<12 hex digits>"): LOGIN
// NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS,
// a small CONNECTION LIMIT, and a random password that drill gives the
// server only as a SCRAM-SHA-256 verifier and pg_restore only through a
// pgpass file (mode 0600, in the plugin's TMPDIR, removed after use);
// never in an argument, the environment or a log line. The scratch
// database is created owned by that role, from template0, with CONNECT
// and TEMPORARY revoked from PUBLIC, and its public schema is given to the
// role (PostgreSQL 15 gives it to pg_database_owner, whose rights a
// NOINHERIT role does not use). The restore, the fingerprints and the
// checks log in as the role, never SET ROLE (which a dump could RESET).
// So a dump's DROP DATABASE of another database is "must be owner", COPY
// ... PROGRAM and server files, ALTER SYSTEM, CREATE ROLE and ALTER ROLE
// of other roles are denied by the server, whatever the dump's text.
// One name is announced to the host (the Scratch event) for both the
// database and the role; Cleanup (and the host's sweep after a crash)
// ends the role's sessions, drops the database and then the role, and
// never touches a name without the scratch shape. pg_hba.conf must let
// the role log in: the role and its database share the name, so "host
// sameuser all <address> scram-sha-256" lets each role into its own
// database only; a refused login is an error saying so.
//
// What a real pg_dump writes and a role that is not a superuser may not
// run is left out or let pass, narrowly: owner statements (ALTER ... OWNER
// TO), privileges (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES), subscriptions
// and security labels are left out of plain dumps, as pg_restore
// --no-owner --no-privileges --no-subscriptions --no-security-labels
// leaves them out of archives (the details say how many); COMMENT ON
// EXTENSION of an extension the role does not own (plpgsql, in dumps of
// older servers) is let pass when the server answers "must be owner"
// (insufficient_privilege), and the details list it. CREATE EXTENSION of
// a trusted extension works (the database's owner may); of an untrusted
// one, and a tablespace the role may not use, is an error problem (the
// drill could not be carried out with least privilege), with what to do.
// The statements of pg_dump --create about the dumped database itself
// (CREATE, ALTER and COMMENT ON DATABASE, the one \connect after them, and
// the DROP DATABASE of --clean right before them) are left out, the
// scratch database standing in for it, as with pg_restore without
// --create; the DROPs of --clean that find nothing to drop in the empty
// scratch database are let pass, as psql lets them. A dump of several
// databases (pg_dumpall, a second CREATE DATABASE or \connect) is an error
// problem saying to dump each database with pg_dump.
//
// # Restore
//
// When a sidecar <dump>.sha256 (sha256sum format) exists beside a dump
// file, the dump's SHA-256 is verified against it before anything is
// restored. The format is detected from the content, never the name:
// custom (PGDMP), directory (toc.dat), tar, plain SQL, and plain SQL
// compressed with gzip or zstd.
// Dumps, sidecars and the password file are opened as regular files only,
// never through a symlink in their last component (internal/safefile); a
// directory-format dump must be a real directory whose members are
// regular files. A symlinked dump, sidecar or member is a fail naming it
// (the backup is not what it should be); a symlinked password file is an
// error (it is the config's, and the operator's to fix). pg_restore is
// given the descriptor drill checked, as /dev/fd/3.
//
// The archive formats are restored with pg_restore --exit-on-error
// --no-owner --no-privileges --no-subscriptions --no-security-labels as
// the scratch role. Plain dumps are restored by drill itself over one
// pgx connection (restorePlain), with the simple query protocol: a
// splitter that follows psql's lexing rules cuts the dump into statements,
// consecutive ones travel in one Query message (up to 1 MiB, and up to the
// next statement that may be a COPY, which goes alone), and COPY data is
// streamed with CopyData only when the server answers a COPY with
// CopyInResponse: the server, not a guess, says when data is expected.
// A CopyInResponse anywhere else gets CopyFail and fails the restore;
// COPY ... TO STDOUT output is discarded. There is no psql, so nothing in
// a dump is a command: a backslash meta-command is refused by the
// splitter with its line (\restrict and \unrestrict, which pg_dump writes,
// are left out), and would otherwise be a syntax error of the server. A
// batch that fails is run again one statement at a time, as psql runs
// them, to name the statement and its line. The first error stops the
// restore (psql's ON_ERROR_STOP).
//
// Errors quoted from the server or from pg_restore carry no echoed input:
// the statement number and dump line say where, the LINE n:, caret,
// QUERY:, CONTEXT:, DETAIL:, HINT: and "Command was:" lines are dropped,
// the server's at or near "token" is dropped, every quoted value becomes
// "…", and the rest is escaped (internal/textsafe) and clipped. Quoted
// names (schema "app" does not exist) are kept for a dump pg_dump wrote
// (an archive, or a plain dump with its header) when every quoted string
// of the message follows the kind of object it names; otherwise they are
// "…" too, so that a file restored by mistake keeps its words.
package postgres
