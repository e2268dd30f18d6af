package restic

import (
	"os/exec"
	"sync"
	"testing"
	"time"
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
