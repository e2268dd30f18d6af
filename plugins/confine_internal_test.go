package plugins

import (
	"net"
	"path/filepath"
	"testing"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// A plugin built before Confine answers UNIMPLEMENTED: the host is told
// it runs unconfined (NotConfining), not given an error, so that the
// drill runs and its record says so (or require_sandbox refuses it).
func TestConfineUnimplemented(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pbv1.RegisterBackendServer(s, pbv1.UnimplementedBackendServer{})
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &grpcClient{client: pbv1.NewBackendClient(conn)}
	resp, err := c.Confine(t.Context(), &ConfineRequest{Source: Source{}, Scratch: "/s", Temp: "/s/tmp"})
	if err != nil {
		t.Fatalf("Confine: %v, want no error", err)
	}
	if resp.Confined() || resp.Summary != NotConfining {
		t.Errorf("Confine = %+v, want %q", resp, NotConfining)
	}
}
