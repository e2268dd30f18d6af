package mysql

import (
	"context"

	"github.com/drillhq/drill/plugins"
)

var _ plugins.Confiner = (*Backend)(nil)

// Sandbox implements plugins.Confiner. The mysql backend needs, once
// confined: the dump glob's folder and the password file read-only, the
// client (mysql_binary, else mariadb or mysql on PATH) executable, and a
// TCP connection to the server's port. The client reads only drill's own
// option file (--defaults-file, in TMPDIR): /etc/mysql stays out, as
// debian.cnf there may hold a maintenance account's password.
func (b *Backend) Sandbox(_ context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	var s source
	plugins.Decode(req.Source, &s) // a bad source is refused by ValidateSource; confine what is readable
	tools := []string{s.binary}
	if s.binary == "" {
		tools = []string{"mariadb", "mysql"}
	}
	return plugins.DumpNeeds(s.glob, []string{s.passwordFile}, tools, s.server, 3306), nil
}
