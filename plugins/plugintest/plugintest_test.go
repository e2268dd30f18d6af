package plugintest_test

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbackend"
	"github.com/drillhq/drill/plugins/plugintest"
)

var (
	good    = plugins.Source{"name": "good"}
	empty   = plugins.Source{"name": "empty", "points": int64(0)}
	damaged = plugins.Source{"name": "damaged", "damaged": true}
)

// TestSuiteInProcess runs the suite against the test backend served over
// an in-process gRPC connection.
func TestSuiteInProcess(t *testing.T) {
	plugintest.Suite{
		Launch: func(t *testing.T) plugins.Backend {
			return plugintest.GRPCBackend(t, &testbackend.Backend{})
		},
		Good:      good,
		Empty:     empty,
		Damaged:   damaged,
		WantFiles: 3,
	}.Run(t)
}

// TestSuiteProcess runs the suite against the test plugin as a real process
// started by plugins.Launch, pinned by its sha256.
func TestSuiteProcess(t *testing.T) {
	path, sum := plugintest.Build(t, "github.com/drillhq/drill/plugins/internal/testplugin")
	plugintest.Suite{
		Launch: func(t *testing.T) plugins.Backend {
			c, err := plugins.Launch(t.Context(), plugins.LaunchSpec{
				Name: "test", Path: path, SHA256: sum, Env: []string{"PATH=/usr/bin:/bin"},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		Good:      good,
		Empty:     empty,
		Damaged:   damaged,
		WantFiles: 3,
	}.Run(t)
}

// broken wraps the test backend and breaks one rule of the contract.
type broken struct {
	testbackend.Backend
	how string
}

func (b *broken) Restore(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	switch b.how {
	case "outside":
		if err := os.WriteFile(filepath.Join(filepath.Dir(req.Target), "stray"), nil, 0o600); err != nil {
			return nil, err
		}
	case "unreported":
		if err := os.WriteFile(filepath.Join(req.Target, "unreported"), []byte("x"), 0o600); err != nil {
			return nil, err
		}
	case "damaged-error":
		if req.Source["damaged"] == true {
			return nil, context.DeadlineExceeded
		}
	case "ignores-unknown":
	}
	if b.how == "wrong-digest" {
		ev = wrongDigest{ev}
	}
	return b.Backend.Restore(ctx, req, ev)
}

func (b *broken) ValidateSource(ctx context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	if b.how == "ignores-unknown" {
		return &plugins.ValidateSourceResponse{}, nil
	}
	return b.Backend.ValidateSource(ctx, req)
}

type wrongDigest struct{ plugins.RestoreEvents }

func (w wrongDigest) Files(fs []plugins.File) error {
	for i := range fs {
		sum := sha256.Sum256([]byte("not the content"))
		fs[i].SHA256 = sum[:]
	}
	return w.RestoreEvents.Files(fs)
}

// TestBrokenBackendHelper runs the suite against a broken backend when
// started by TestSuiteCatchesBrokenBackends; otherwise it is skipped.
func TestBrokenBackendHelper(t *testing.T) {
	how := os.Getenv("PLUGINTEST_BROKEN")
	if how == "" {
		t.Skip("run by TestSuiteCatchesBrokenBackends")
	}
	plugintest.Suite{
		Launch: func(t *testing.T) plugins.Backend {
			return plugintest.GRPCBackend(t, &broken{how: how})
		},
		Good:      good,
		Damaged:   damaged,
		WantFiles: 3,
	}.Run(t)
}

// TestSuiteCatchesBrokenBackends checks that the suite fails backends that
// break the contract, each with a message that says how.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	tests := []struct {
		how  string
		want string
	}{
		{"outside", `Restore wrote "stray" next to the target`},
		{"unreported", `file "unreported" is in the target but was never reported`},
		{"wrong-digest", `reported with sha256`},
		{"damaged-error", `damage in the backup must be a ProblemFail`},
		{"ignores-unknown", `want one naming the unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.how, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBackendHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "PLUGINTEST_BROKEN="+tt.how)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend that is broken (%s):\n%s", tt.how, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("suite output does not say %q:\n%s", tt.want, out)
			}
		})
	}
}
