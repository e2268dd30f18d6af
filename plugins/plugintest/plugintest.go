// Package plugintest is the conformance suite of drill backend plugins, and
// helpers to run a backend over a real gRPC connection in tests.
//
// Every backend, built-in or third-party, must pass Suite. A backend package
// runs it cheaply in-process over real gRPC:
//
//	func TestConformance(t *testing.T) {
//		plugintest.Suite{
//			Launch: func(t *testing.T) plugins.Backend { return plugintest.GRPCBackend(t, mybackend.New()) },
//			Good:   plugins.Source{"path": goodDir},
//			Empty:  plugins.Source{"path": emptyDir},
//			WantFiles: 3,
//		}.Run(t)
//	}
//
// and, to test the real executable, as a process started by plugins.Launch
// (see Build).
package plugintest

import (
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbuild"
	"github.com/hashicorp/go-plugin"
)

// GRPCBackend serves b in-process over a real gRPC connection (go-plugin's
// plugin.TestPluginGRPCConn, on a unix socket) and returns the host side of
// that connection: every call goes through the protocol's encoding,
// streaming and error mapping exactly as with a plugin process. The
// connection is closed when the test ends.
func GRPCBackend(t *testing.T, b plugins.Backend) plugins.Backend {
	t.Helper()
	// The server is stopped by client.Close, through go-plugin's controller
	// service; stopping it here as well would race with that.
	client, _ := plugin.TestPluginGRPCConn(t, false, plugin.PluginSet{
		plugins.PluginName: &plugins.GRPCPlugin{Impl: b},
	})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(plugins.PluginName)
	if err != nil {
		t.Fatalf("dispense backend over gRPC: %v", err)
	}
	be, ok := raw.(plugins.Backend)
	if !ok {
		t.Fatalf("dispensed %T, not a plugins.Backend", raw)
	}
	return be
}

// Build compiles the main package pkg (an import path, or ./dir relative to
// the test's directory) with `go build` and the extra build flags into a
// temporary directory, and returns the executable's path and its hex
// SHA-256, ready for plugins.LaunchSpec's Path and SHA256.
func Build(t testing.TB, pkg string, flags ...string) (path, sha256 string) {
	t.Helper()
	path, sum, err := testbuild.Build(t.TempDir(), "plugin", pkg, flags...)
	if err != nil {
		t.Fatalf("build plugin %s: %v", pkg, err)
	}
	return path, sum
}
