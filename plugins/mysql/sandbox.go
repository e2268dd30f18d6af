package mysql

import (
	"context"
	"os/exec"

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
	str := func(k string) string { s, _ := req.Source[k].(string); return s }
	needs := &plugins.SandboxNeeds{}
	if d := str("dump"); d != "" {
		needs.Read = append(needs.Read, plugins.SourceFiles(d)...)
	}
	if f := str("password_file"); f != "" {
		needs.Read = append(needs.Read, f)
	}
	tools := []string{str("mysql_binary")}
	if tools[0] == "" {
		tools = nil
		for _, name := range []string{"mariadb", "mysql"} {
			if _, err := exec.LookPath(name); err == nil {
				tools = append(tools, name)
				break
			}
		}
	}
	for _, t := range tools {
		if exe, err := plugins.ResolveTool(t); err == nil {
			needs.Exec = append(needs.Exec, exe...)
		}
	}
	needs.ConnectTCP = append(needs.ConnectTCP, plugins.URLPort(str("server"), 3306))
	return needs, nil
}
