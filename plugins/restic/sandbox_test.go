package restic

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// A password_command runs before the plugin process confines itself: it
// may read what the sandbox denies (here a file outside every source, with
// cat, which the sandbox does not let execute), and restic gets its output
// through a pipe. The confined plugin lists and restores the repository.
func TestPasswordCommandBeforeConfinement(t *testing.T) {
	src, _, files := repo(t)
	secrets := t.TempDir()
	pw := filepath.Join(secrets, "restic.pw")
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(src, "password_file")
	src["password_command"] = "cat " + pw
	c := plugintest.Process(t, Name)
	scratch := t.TempDir()
	temp := filepath.Join(scratch, "tmp")
	target := filepath.Join(scratch, "target")
	for _, d := range []string{temp, target} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := c.Confine(t.Context(), &plugins.ConfineRequest{Source: src, Scratch: scratch, Temp: temp})
	if err != nil {
		t.Fatal(err)
	}
	if !conf.Confined() {
		t.Fatalf("Confine: %s, want Landlock", conf.Summary)
	}
	list, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatalf("ListRestorePoints: %v", err)
	}
	if len(list.Points) != 1 {
		t.Fatalf("%d points, want 1", len(list.Points))
	}
	resp, err := c.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: target, DrillName: "t"}, nil)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if resp.Files != int64(len(files)) || len(resp.Problems) > 0 {
		t.Errorf("restored %d files with problems %+v, want %d and none", resp.Files, resp.Problems, len(files))
	}
}

// TestPasswordCommandTooMuch: a password_command that prints more than a
// password could be is refused with a reason, not cut into a wrong
// password that restic would reject without saying why.
func TestPasswordCommandTooMuch(t *testing.T) {
	_, err := runPasswordCommand(context.Background(), "head -c 1100000 /dev/urandom")
	if err == nil || !strings.Contains(err.Error(), "that is not a password") {
		t.Fatalf("err = %v, want a password_command that printed too much refused", err)
	}
	pw, err := runPasswordCommand(context.Background(), "echo s3cr3t")
	if err != nil || string(pw) != "s3cr3t" {
		t.Fatalf("echo: %q, %v", pw, err)
	}
}
