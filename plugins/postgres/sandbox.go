package postgres

import (
	"context"
	"os"
	"path/filepath"

	"github.com/drillhq/drill/plugins"
)

var _ plugins.Confiner = (*Backend)(nil)

// Sandbox implements plugins.Confiner. The postgres backend needs, once
// confined: the dump glob's folder and the password file read-only,
// pg_restore executable (plain dumps are sent over the wire by the plugin
// itself: psql is never run, so it is not executable either), and a TCP
// connection to the server's port (a server on a unix socket needs no
// rule: Landlock before ABI 9 does not restrict connecting to one by
// path).
//
// Debian's pg_restore on PATH is pg_wrapper, a Perl script that picks the
// cluster's version and runs /usr/lib/postgresql/N/bin/pg_restore: with it
// the sandbox also lets Perl and those binaries execute and the wrapper
// read /etc/postgresql-common and /etc/postgresql. Set pg_restore_binary
// to the real binary for the narrowest policy.
func (b *Backend) Sandbox(_ context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	var s source
	plugins.Decode(req.Source, &s) // a bad source is refused by ValidateSource; confine what is readable
	tool := s.pgRestore
	if tool == "" {
		tool = "pg_restore"
	}
	needs := plugins.DumpNeeds(s.dump, []string{s.passwordFile, os.Getenv("PGPASSFILE")}, []string{tool}, s.server, 5432)
	if len(needs.Exec) > 0 && filepath.Base(needs.Exec[0]) == "pg_wrapper" {
		real, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_restore")
		needs.Exec = append(needs.Exec, real...)
		needs.Read = append(needs.Read, "/etc/postgresql-common", "/etc/postgresql")
	}
	return needs, nil
}
