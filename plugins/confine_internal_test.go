package plugins

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins/internal/sandbox"

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

// A policy that would let the plugin read the folder holding state_dir
// (a dump glob in state_dir, a state_dir under a base folder) is refused:
// Landlock cannot carve keys/ out of an allowed folder.
func TestConfineRefusesStateDir(t *testing.T) {
	state := t.TempDir()
	scratch := filepath.Join(state, "scratch", "d-1")
	if err := os.MkdirAll(filepath.Join(scratch, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "backups")
	if err := os.Symlink(state, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy sandbox.Policy
		bad    bool
	}{
		{"the scratch directory itself", sandbox.Policy{Write: []string{scratch}}, false},
		{"a folder beside state_dir", sandbox.Policy{Read: []string{filepath.Dir(state) + "-other"}}, false},
		{"a file in state_dir", sandbox.Policy{Read: []string{filepath.Join(state, "restic.pass")}}, false},
		{"state_dir", sandbox.Policy{Read: []string{state}}, true},
		{"state_dir's parent", sandbox.Policy{Read: []string{filepath.Dir(state)}}, true},
		{"state_dir/scratch", sandbox.Policy{Write: []string{filepath.Join(state, "scratch")}}, true},
		{"state_dir through a link", sandbox.Policy{Read: []string{link}}, true},
		{"the root", sandbox.Policy{Exec: []string{"/"}}, true},
	} {
		err := coversState(tc.policy, scratch)
		if (err != nil) != tc.bad {
			t.Errorf("%s: coversState = %v, want an error: %v", tc.name, err, tc.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "state_dir") {
			t.Errorf("%s: %v does not name state_dir", tc.name, err)
		}
	}
	// The base policy itself never covers a state_dir made where drill's
	// own tests make theirs.
	if err := coversState(sandbox.Base(), scratch); err != nil {
		t.Errorf("the base policy: %v", err)
	}
}
