package filesystem

import (
	"context"

	"github.com/drillhq/drill/plugins"
)

var _ plugins.Confiner = (*Backend)(nil)

// Sandbox implements plugins.Confiner: the filesystem backend reads the
// folder its path or archive glob matches in (the stamp file is inside the
// copy), runs no tool and connects nowhere.
func (b *Backend) Sandbox(_ context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	needs := &plugins.SandboxNeeds{}
	for _, k := range []string{keyPath, keyArchive} {
		if p, ok := req.Source[k].(string); ok && p != "" {
			needs.Read = append(needs.Read, plugins.GlobRoot(p))
		}
	}
	return needs, nil
}
