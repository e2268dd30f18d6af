package plugintest

import (
	"os"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/sandbox"
)

// ServePlugin, called first in a backend package's TestMain, serves the
// backend newBackend returns when the test binary was started as a plugin
// process (by Process), and then exits; otherwise it returns at once:
//
//	func TestMain(m *testing.M) {
//		plugintest.ServePlugin(mybackend.New)
//		os.Exit(m.Run())
//	}
//
// This is how drill runs its built-in backends (it re-executes itself), so
// the backend's tests can run it as a real, confined process without
// building the drill binary.
func ServePlugin(newBackend func() plugins.Backend) {
	if os.Getenv(plugins.MagicCookieKey) != plugins.MagicCookieValue {
		return
	}
	plugins.Serve(newBackend())
	os.Exit(0)
}

// Process starts this test binary as a plugin process serving the backend
// its TestMain passes to ServePlugin, with the environment drill gives
// plugins (PATH, TMPDIR, TZ, the locale, and DRILL_SANDBOX when set), and
// closes it when the test ends. Use it with Suite.Confine.
func Process(t *testing.T, name string) *plugins.Client {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, k := range []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL", sandbox.DisableEnv} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	c, err := plugins.Launch(t.Context(), plugins.LaunchSpec{Name: name, Path: self, Builtin: true, Env: env})
	if err != nil {
		t.Fatalf("launch this test binary as plugin %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sandboxABI is the kernel's Landlock ABI, or 0 and why there is none.
func sandboxABI() (int, string) { return sandbox.Detect() }
