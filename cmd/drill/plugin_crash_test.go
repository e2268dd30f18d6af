package main

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// pidLauncher remembers the process id of the plugins it starts.
type pidLauncher struct {
	*drills.PluginLauncher
	mu   sync.Mutex
	pids []int
}

func (l *pidLauncher) Launch(ctx context.Context, backend string) (drills.Backend, error) {
	b, err := l.PluginLauncher.Launch(ctx, backend)
	if err == nil {
		if c, ok := b.(*plugins.Client); ok {
			l.mu.Lock()
			l.pids = append(l.pids, c.Pid())
			l.mu.Unlock()
		}
	}
	return b, err
}

// A real filesystem plugin process killed with SIGKILL in the middle of a
// restore gives an error verdict naming the backend, the host carries on,
// and the scratch space is removed.
func TestPluginKilledMidRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// Enough incompressible data that the restore takes a while.
	buf := make([]byte, 1<<20)
	for i := range 32 {
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(data, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(dir, "big.tar.gz")
	if out, err := exec.Command("tar", "-czf", archive, "-C", data, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	cfg, err := config.Parse(filepath.Join(dir, "drill.yaml"), []byte(`
state_dir: state
services: {s: {owner: ops@example.org}}
drills:
  big: {service: s, backend: filesystem, source: {archive: big.tar.gz}}
`))
	if err != nil {
		t.Fatal(err)
	}
	l := &pidLauncher{PluginLauncher: &drills.PluginLauncher{Self: drillBin, Builtins: builtinNames(), Env: drills.PluginEnv()}}
	var once sync.Once
	r := &drills.Runner{
		Config: cfg, Launcher: l, ScratchRoot: filepath.Join(dir, "scratch"),
		Progress: func(p drills.Progress) {
			if p.Phase == "restore" && p.BytesDone > 0 {
				once.Do(func() {
					l.mu.Lock()
					defer l.mu.Unlock()
					for _, pid := range l.pids {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				})
			}
		},
	}
	rec, err := r.Run(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != record.VerdictError {
		t.Fatalf("verdict = %s, want error; reasons %q", rec.Verdict, rec.Reasons)
	}
	if len(rec.Reasons) == 0 || !strings.Contains(rec.Reasons[0], "backend filesystem") {
		t.Errorf("reasons %q do not name the backend", rec.Reasons)
	}
	t.Logf("reason: %s", rec.Reasons[0])
	if ents, _ := os.ReadDir(r.ScratchRoot); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
	// The host is still able to run the next drill.
	rec, err = r.Run(context.Background(), "big")
	if err != nil || rec.Verdict != record.VerdictPass {
		t.Errorf("next drill: verdict %v err %v reasons %q", rec.Verdict, err, rec.Reasons)
	}
}
