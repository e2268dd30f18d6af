package postgres

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// TestConformanceConfined runs the conformance suite against the backend
// as drill runs it: a plugin process confined with Landlock to the dump's
// folder, its scratch directory, the client tools and the server's port.
func TestConformanceConfined(t *testing.T) {
	f := getFixture(t)
	damaged := copyDump(t, f.dumps["custom"], "damaged.dump")
	fi, err := os.Stat(damaged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(damaged, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	plugintest.Suite{
		Launch:    func(t *testing.T) plugins.Backend { return plugintest.Process(t, Name) },
		Good:      sourceFor(f.dumps["custom"]),
		Empty:     sourceFor(filepath.Join(t.TempDir(), "none-*.dump")),
		Damaged:   sourceFor(damaged),
		WantFiles: int64(len(f.tables)),
		Confine:   true,
	}.Run(t)
}
