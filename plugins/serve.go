package plugins

import (
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve serves b as a drill backend plugin over protocol ProtocolVersion. It
// is what a plugin's main function calls, and all it calls:
//
//	func main() { plugins.Serve(mybackend.New(plugins.PluginLogger())) }
//
// Serve prints go-plugin's handshake line on stdout, serves gRPC (with
// mutual TLS when the host asks for it, as drill always does) on a unix
// socket, and returns when the host closes the plugin. Run without drill's
// handshake cookie in the environment (by hand, say), it prints a short
// explanation and exits with status 1. While serving, SIGINT is ignored: the
// host cancels work through the RPC's context instead.
//
// Everything the plugin writes to stderr or stdout after the handshake ends
// up in the host's log, attributed to the backend.
func Serve(b Backend) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(ProtocolVersion),
		Plugins:         plugin.PluginSet{PluginName: &GRPCPlugin{Impl: b}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     os.Stderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
}

// PluginLogger returns a logger for use inside a plugin process. It writes
// one JSON object per line to the process's stderr, in the form go-plugin
// parses (@level, @message, @timestamp), so the host logs each line with
// its level and attributes under component=plugin and backend=NAME. Create
// it before calling Serve.
func PluginLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: hclogJSONAttr,
	}))
}

// hclogTimeFormat is the only @timestamp format go-plugin's host parses.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// hclogJSONAttr renames slog's built-in keys to hclog's JSON keys.
func hclogJSONAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
	case slog.LevelKey:
		level, _ := a.Value.Any().(slog.Level)
		return slog.String("@level", hclogLevelName(level))
	case slog.MessageKey:
		return slog.Attr{Key: "@message", Value: a.Value}
	}
	return a
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
