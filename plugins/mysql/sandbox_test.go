package mysql

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

func TestMain(m *testing.M) {
	plugintest.ServePlugin(New) // when run as a plugin process (TestConformanceConfined)
	os.Exit(m.Run())
}

// TestConformanceConfined runs the conformance suite against the backend
// as drill runs it: a plugin process confined with Landlock to the dump's
// folder, its scratch directory, the client and the server's port.
func TestConformanceConfined(t *testing.T) {
	db := setup(t)
	name := sourceDB(t, db)
	plain := dumpDB(t, name)
	good := writeDump(t, "shop.sql", plain)
	damaged := writeDump(t, "cut.sql", plain[:len(plain)/2])
	plugintest.Suite{
		Launch:    func(t *testing.T) plugins.Backend { return plugintest.Process(t, Name) },
		Good:      src(good),
		Empty:     src(filepath.Join(t.TempDir(), "none-*.sql")),
		Damaged:   src(damaged),
		WantFiles: 3,
		Confine:   true,
	}.Run(t)
}
