package filesystem

import (
	"context"
	"strings"

	"github.com/drillhq/drill/plugins"
)

var _ plugins.Confiner = (*Backend)(nil)

// Sandbox implements plugins.Confiner: the filesystem backend reads its
// archive (with a glob, the folder the archives are in), and its copy (path; with a glob the
// folder the copies are in; the stamp file is inside the copy); it runs no
// tool and connects nowhere.
func (b *Backend) Sandbox(_ context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	needs := &plugins.SandboxNeeds{}
	if p, ok := req.Source[keyPath].(string); ok && p != "" {
		if !strings.ContainsAny(p, `*?[\`) {
			needs.Read = append(needs.Read, p)
		} else {
			needs.Read = append(needs.Read, plugins.GlobRoot(p))
		}
	}
	if p, ok := req.Source[keyArchive].(string); ok && p != "" {
		needs.Read = append(needs.Read, plugins.SourceFiles(p)...)
	}
	return needs, nil
}
