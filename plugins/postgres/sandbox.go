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
	str := func(k string) string { s, _ := req.Source[k].(string); return s }
	needs := &plugins.SandboxNeeds{}
	if d := str("dump"); d != "" {
		needs.Read = append(needs.Read, plugins.SourceFiles(d)...)
	}
	for _, f := range []string{str("password_file"), os.Getenv("PGPASSFILE")} {
		if f != "" {
			needs.Read = append(needs.Read, f)
		}
	}
	tool := str("pg_restore_binary")
	if tool == "" {
		tool = "pg_restore"
	}
	if exe, err := plugins.ResolveTool(tool); err == nil { // else the restore says it is missing
		needs.Exec = append(needs.Exec, exe...)
		if filepath.Base(exe[0]) == "pg_wrapper" {
			real, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_restore")
			needs.Exec = append(needs.Exec, real...)
			needs.Read = append(needs.Read, "/etc/postgresql-common", "/etc/postgresql")
		}
	}
	needs.ConnectTCP = append(needs.ConnectTCP, plugins.URLPort(str("server"), 5432))
	return needs, nil
}
