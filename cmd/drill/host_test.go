package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
)

// TestHostFor checks the one rule that chooses where a command works:
// through an agent that answers on the socket, in this process when
// nothing listens there, and nowhere (exit 2) when something else does.
func TestHostFor(t *testing.T) {
	e := &env{stdout: io.Discard, stderr: io.Discard}
	newConfig := func(t *testing.T) *config.Config {
		dir := t.TempDir()
		return &config.Config{Socket: filepath.Join(dir, "drill.sock"), StateDir: filepath.Join(dir, "state")}
	}
	// listen listens on cfg's socket and serves health with status.
	listen := func(t *testing.T, cfg *config.Config, status int) *net.UnixListener {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Socket, Net: "unix"})
		must(t, err)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"status":"ok","checkpoint":"host/drill\n3\nroot\n"}`)
		})
		mux.HandleFunc("GET /v1/history", func(http.ResponseWriter, *http.Request) {})
		srv := &http.Server{Handler: mux}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		return l
	}

	t.Run("no socket", func(t *testing.T) {
		cfg := newConfig(t)
		h, err := hostFor(t.Context(), e, cfg)
		must(t, err)
		if h.InAgent() {
			t.Fatalf("hostFor without a socket = the agent, want this process")
		}
		// No store yet: nothing proven, and not an error.
		recs, cp, err := h.Evidence(t.Context(), drills.PositionQueryFor(cfg, time.Now()))
		if recs != nil || cp != "" || err != nil {
			t.Errorf("Evidence without a store = %v, %q, %v; want nothing", recs, cp, err)
		}
		err = h.History(t.Context(), agent.HistoryFilter{}, nil)
		if _, ok := errors.AsType[*noStoreError](err); !ok {
			t.Errorf("History without a store = %v, want a *noStoreError", err)
		}
	})

	t.Run("socket left by a dead agent", func(t *testing.T) {
		cfg := newConfig(t)
		l := listen(t, cfg, http.StatusOK)
		l.SetUnlinkOnClose(false)
		must(t, l.Close())
		h, err := hostFor(t.Context(), e, cfg)
		must(t, err)
		if h.InAgent() {
			t.Fatalf("hostFor with a dead agent's socket = the agent, want this process")
		}
	})

	t.Run("agent answers", func(t *testing.T) {
		cfg := newConfig(t)
		listen(t, cfg, http.StatusOK)
		h, err := hostFor(t.Context(), e, cfg)
		must(t, err)
		if !h.InAgent() {
			t.Fatalf("hostFor with an agent on the socket = this process, want the agent")
		}
		if _, cp, err := h.Evidence(t.Context(), drills.PositionQueryFor(cfg, time.Now())); err != nil || cp != "host/drill\n3\nroot\n" {
			t.Errorf("Evidence through the agent = checkpoint %q, %v; want the agent's", cp, err)
		}
	})

	t.Run("something else answers", func(t *testing.T) {
		cfg := newConfig(t)
		listen(t, cfg, http.StatusInternalServerError)
		h, err := hostFor(t.Context(), e, cfg)
		if ec, ok := errors.AsType[*exitCode](err); !ok || ec.code != exitUsage || h != nil {
			t.Fatalf("hostFor with a socket that is no agent = %v, %v; want a usage error (exit 2)", h, err)
		}
	})
}
