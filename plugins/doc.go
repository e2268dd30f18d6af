// Package plugins is drill's backend plugin protocol: the contract between
// drill (the host) and one kind of backup, and the glue that runs every
// backend out of process.
//
// A backend implements Backend. It runs in its own process, started by the
// host through HashiCorp's go-plugin and spoken to over gRPC (protocol
// version ProtocolVersion, the service drill.plugin.v1.Backend), so a
// backend that crashes or hangs never takes the agent down. Built-in
// backends are compiled into the drill binary, which re-executes itself as
// the plugin; third-party backends are separate executables pinned by
// SHA-256.
//
// The plugin side is one call in main:
//
//	func main() { plugins.Serve(mybackend.New(plugins.PluginLogger())) }
//
// The host side starts a plugin with Launch and uses the returned *Client
// as a Backend:
//
//	c, err := plugins.Launch(ctx, plugins.LaunchSpec{Name: "mybackend", Path: path, SHA256: sum, Env: env, Logger: logger})
//	if err != nil { ... }
//	defer c.Close()
//	conf, err := c.Confine(ctx, &plugins.ConfineRequest{Source: src, Scratch: scratch, Temp: scratch + "/tmp"})
//	points, err := c.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
//
// Confine makes the plugin process confine itself with Landlock before it
// reads the backup (sandbox.go, docs/sandbox.md); a backend declares what it
// needs once confined by implementing Confiner.
//
// A backend declares its source once, as a struct whose fields carry
// `source:"name,options"` and `doc:"..."` tags (schema.go): Keys turns it
// into Describe's SourceKeys, from which the host checks every drill's
// source and `drill config check` words its messages, and Decode fills it
// from the Source the host sends, reporting unknown keys, wrong types and
// missing required keys; the backend adds only its own rules.
//
// Package plugintest holds the conformance suite every backend must pass.
// The wire protocol is described in docs/plugin-protocol.md.
package plugins
