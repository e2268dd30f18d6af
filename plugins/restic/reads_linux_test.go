package restic

import (
	"context"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// watchReads reports a process that reads, growing, and nothing for one
// that waits without reading.
func TestWatchReads(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		reads bool
	}{
		{"reading", []string{"bash", "-c", "while :; do read -r -N 100000 x < /dev/zero; sleep 0.1; done"}, true},
		{"waiting", []string{"sleep", "5"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(tt.args[0], tt.args[1:]...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			var mu sync.Mutex
			var seen []int64
			stop := watchReads(cmd.Process.Pid, func(n int64) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, n)
			})
			time.Sleep(3500 * time.Millisecond)
			stop()
			mu.Lock()
			defer mu.Unlock()
			for i := 1; i < len(seen); i++ {
				if seen[i] <= seen[i-1] {
					t.Errorf("reads did not grow: %v", seen)
				}
			}
			if tt.reads && len(seen) < 2 || !tt.reads && len(seen) > 1 {
				t.Errorf("%d reports (%v); want reads reported: %v", len(seen), seen, tt.reads)
			}
		})
	}
}

// progressEvents records progress reports.
type progressEvents struct {
	mu sync.Mutex
	p  []int64
}

func (e *progressEvents) Progress(p plugins.Progress) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.p = append(e.p, p.BytesDone)
	return nil
}
func (e *progressEvents) Files([]plugins.File) error { return nil }
func (e *progressEvents) Scratch(string) error       { return nil }

// While a listing runs, the bytes restic ls reads are reported as progress
// on top of what was restored, each second they grew; await returns when
// the listing ends, or with ctx's error.
func TestListingAwaitReportsReads(t *testing.T) {
	l := &listing{done: make(chan struct{})}
	ev := &progressEvents{}
	go func() {
		for i := 1; i <= 3; i++ {
			l.read.Store(int64(i) * 1000)
			time.Sleep(readInterval)
		}
		time.Sleep(readInterval) // no reads: nothing reported
		close(l.done)
	}()
	if err := l.await(t.Context(), ev, plugins.Progress{BytesDone: 5}); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.p) < 2 || len(ev.p) > 3 || ev.p[0] < 1005 || ev.p[len(ev.p)-1] != 3005 {
		t.Errorf("progress %v; want 2 or 3 reports growing to 3005", ev.p)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&listing{done: make(chan struct{})}).await(ctx, ev, plugins.Progress{}); err == nil {
		t.Error("await of a listing that never ends returned nil after ctx ended")
	}
}
