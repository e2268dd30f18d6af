package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// TestAgentSlowClientHoldsNothing: clients that request /v1/export and
// /v1/history from a real agent and then stop reading hold nothing: drill
// runs through the agent complete and append their records meanwhile.
// That the agent then drops them after its write timeout is the agent
// package's TestStalledClientsAreDropped.
//
// The store is made so that the drills' appends must grow bbolt's memory
// map (a prefill that just made the file 1 MiB, and records of some
// 500 KiB each: the test plugin reports its environment): bbolt remaps
// only when no read transaction is open, so an export streamed inside its
// read transaction would hold every append until the client reads.
func TestAgentSlowClientHoldsNothing(t *testing.T) {
	dir := t.TempDir()
	cfgPath := agentConfig(t, dir, "", "  big: {service: s, backend: t, source: {name: b}}\n")
	cfg, err := config.Load(cfgPath)
	must(t, err)
	store, err := openStore(cfg, false)
	must(t, err)
	db := filepath.Join(cfg.StateDir, "drill.db")
	for {
		fi, err := os.Stat(db)
		must(t, err)
		if fi.Size() >= 1<<20 {
			t.Logf("prefilled store: %d bytes, %d records", fi.Size(), mustSize(t, store))
			break
		}
		var recs []*record.Record
		for range 8 {
			b := make([]byte, 2048)
			_, _ = rand.Read(b)
			now := time.Now().UTC()
			recs = append(recs, &record.Record{Drill: "big", Service: "s", Backend: "t", Host: "h", Verdict: record.VerdictFail,
				Reasons: []string{hex.EncodeToString(b)}, Started: now, Finished: now, Checks: []record.Check{}})
		}
		_, err = store.AppendBatch(recs)
		must(t, err)
	}
	must(t, store.Close())
	// The agent passes these on to the test plugin, which reports them.
	for _, k := range []string{"LANG", "LC_ALL", "TZ"} {
		b := make([]byte, 60<<10)
		_, _ = rand.Read(b)
		t.Setenv(k, hex.EncodeToString(b))
	}
	a := startAgent(t, cfgPath)

	stall := func(path string) net.Conn {
		c, err := net.Dial("unix", a.socket)
		must(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: drill\r\n\r\n")
		must(t, err)
		return c
	}
	// Once the agent writes to both, it is blocked writing to both.
	for name, c := range map[string]net.Conn{"export": stall("/v1/export"), "history": stall("/v1/history")} {
		waitFor(t, 20*time.Second, name+" to start its response", func() bool { return unread(t, c) > 0 })
	}

	start := time.Now()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, drillBin, "-c", cfgPath, "run", "big")
		cmd.Env = append(os.Environ(), "DRILL_CONFIG=")
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("drill run %d did not finish within 30s while clients stalled (the store is held):\n%s", i+1, out)
		}
		if err != nil {
			t.Fatalf("drill run %d: %v\n%s", i+1, err, out)
		}
	}
	t.Logf("3 drills through the agent took %s while two clients stalled", time.Since(start).Round(time.Millisecond))
	if recs := history(t, cfgPath, "big"); len(recs) == 0 || recs[0].Details["environ"] == "" {
		t.Errorf("the drills' records are not in the history")
	}
}

// unread is how many bytes c has received and not read.
func unread(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.UnixConn).SyscallConn()
	must(t, err)
	var n int
	var ierr error
	must(t, raw.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }))
	must(t, ierr)
	return n
}

func mustSize(t *testing.T, s *evidence.Store) int64 {
	t.Helper()
	n, err := s.Size()
	must(t, err)
	return n
}
