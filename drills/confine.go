package drills

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
)

// confiner is a Backend whose plugin process can confine itself; every
// plugins.Client is one.
type confiner interface {
	Confine(ctx context.Context, req *plugins.ConfineRequest) (*plugins.ConfineResponse, error)
}

// confine has the plugin process confine itself to the drill's source and
// scratch directory, with its tmp as TMPDIR, before anything reads the
// backup, and records in details.sandbox which confinement is in force.
// The drill stops when Confine failed, or when the plugin could not be
// confined and the drill has require_sandbox set.
func (dr *drillRun) confine(ctx context.Context) bool {
	dr.st.set(PhaseConfine)
	tmp := filepath.Join(dr.sd.Path, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		dr.error(fmt.Sprintf("create the plugin's temporary directory: %v", err))
		return false
	}
	conf := &plugins.ConfineResponse{Summary: plugins.NotConfining}
	if c, ok := dr.b.(confiner); ok {
		resp, err := c.Confine(ctx, &plugins.ConfineRequest{Source: dr.src, Scratch: dr.sd.Path, Temp: tmp})
		if err != nil {
			dr.detail("sandbox", "none: the plugin could not confine itself")
			dr.error(fmt.Sprintf("confine backend %s to its sources and scratch space: %v", dr.d.Backend, err))
			return false
		}
		conf = resp
	}
	dr.detail("sandbox", textsafe.Escape(conf.Summary))
	if dr.d.RequireSandbox && !conf.Confined() {
		dr.error(fmt.Sprintf("require_sandbox is set but backend %s's plugin process could not confine itself (%s); nothing was restored",
			dr.d.Backend, dr.rec.Details["sandbox"]))
		return false
	}
	return true
}
