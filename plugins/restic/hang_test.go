package restic

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// A password_command that hangs stops with restic when the restore is
// cancelled (by the drill's timeout or stall detector): restic and the
// command run in a process group of their own, which gets SIGINT. The
// restore returns soon after, and no command is left running (one that
// held restic's stderr open used to keep the plugin waiting forever).
func TestPasswordCommandHangs(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc to find the password command's process")
	}
	src, r, _ := repo(t)
	id := snapshotIDs(t, src)[0]
	// A sleep no other test runs, to find it among all processes.
	secs := strconv.Itoa(1000000 + os.Getpid())
	t.Cleanup(func() {
		for _, pid := range plugintest.Running("sleep", secs) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	delete(src, "password_file")
	src["password_command"] = "sleep " + secs
	b := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: id, Target: t.TempDir()}, &rec{files: map[string][]byte{}})
		done <- err
	}()
	// Cancel once restic waits for the command.
	for deadline := time.Now().Add(20 * time.Second); len(plugintest.Running("sleep", secs)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("restic did not run the password command")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Restore returned no error with a password command that never answered")
		}
	case <-time.After(stopGrace + 20*time.Second):
		t.Fatal("Restore did not return after its context was cancelled")
	}
	if _, err := b.Cleanup(context.Background(), &plugins.CleanupRequest{Source: src}); err != nil {
		t.Fatal(err)
	}
	// Exited processes may take a moment to be reaped.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left := plugintest.Running("sleep", secs)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("password commands left running: %v", left)
		}
	}
	noLocks(t, r)
}
