package plugins

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
)

// closeWait bounds how long Serve, once the host closed the plugin, waits
// for the calls it was serving to return: their contexts are cancelled,
// so their client tools are being stopped (SIGINT to each tool's process
// group). It is below the 2 s go-plugin's host gives a closed plugin to
// exit before it kills it.
const closeWait = 1500 * time.Millisecond

// Serve serves b as a drill backend plugin over protocol ProtocolVersion. It
// is what a plugin's main function calls, and all it calls:
//
//	func main() { plugins.Serve(mybackend.New(plugins.PluginLogger())) }
//
// Serve prints go-plugin's handshake line on stdout, serves gRPC (with
// mutual TLS when the host asks for it, as drill always does) on a unix
// socket, and returns when the host closes the plugin, once the calls it
// was serving have returned (at most closeWait later). Run without drill's
// handshake cookie in the environment (by hand, say), it prints a short
// explanation and exits with status 1. While serving, SIGINT is ignored: the
// host cancels work through the RPC's context instead.
//
// Everything the plugin writes to stderr or stdout after the handshake ends
// up in the host's log, attributed to the backend.
func Serve(b Backend) {
	var calls inFlight
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(ProtocolVersion),
		Plugins:         plugin.PluginSet{PluginName: &GRPCPlugin{Impl: b}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts,
				grpc.ChainUnaryInterceptor(calls.unary), grpc.ChainStreamInterceptor(calls.stream)))
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     os.Stderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
	// The host closed the plugin: let the calls it cancelled stop their
	// tools before the process exits (a tool's leader would get
	// DieWithParent's signal, but not what it started).
	calls.wait(closeWait)
}

// inFlight counts the backend calls being served.
type inFlight struct{ n atomic.Int64 }

// backendMethod reports whether a gRPC method is one of the Backend
// service's (not go-plugin's own, such as its stdio stream).
func backendMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/"+pbv1.Backend_ServiceDesc.ServiceName+"/")
}

func (f *inFlight) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if backendMethod(info.FullMethod) {
		f.n.Add(1)
		defer f.n.Add(-1)
	}
	return handler(ctx, req)
}

func (f *inFlight) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if backendMethod(info.FullMethod) {
		f.n.Add(1)
		defer f.n.Add(-1)
	}
	return handler(srv, ss)
}

// wait waits until no call is being served, at most d.
func (f *inFlight) wait(d time.Duration) {
	for deadline := time.Now().Add(d); f.n.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
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
