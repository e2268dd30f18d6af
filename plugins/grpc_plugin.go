package plugins

import (
	"context"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// The go-plugin handshake of protocol ProtocolVersion. A plugin started
// without MagicCookieKey=MagicCookieValue in its environment refuses to run
// (it was not started by drill); the value is not a secret.
const (
	MagicCookieKey   = "DRILL_PLUGIN"
	MagicCookieValue = "WWdqHds01cz96fCsQOpcn1VTQO450EOd"
)

// PluginName is the name of the one plugin a drill backend plugin serves
// (go-plugin's plugin set key).
const PluginName = "backend"

// handshake is the go-plugin handshake for a protocol version.
func handshake(version int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(version),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// GRPCPlugin is the go-plugin glue of the backend protocol: on the plugin
// side it serves Impl as the drill.plugin.v1.Backend gRPC service, on the
// host side it dispenses a Backend that calls that service. Plugin authors
// use Serve and hosts use Launch; GRPCPlugin is exported for tests that wire
// go-plugin themselves (see plugintest.GRPCBackend).
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the backend to serve; unused on the host side.
	Impl Backend
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the backend service on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pbv1.RegisterBackendServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Backend that calls the service over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{client: pbv1.NewBackendClient(conn)}, nil
}
