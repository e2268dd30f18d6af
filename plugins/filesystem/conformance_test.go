package filesystem_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/filesystem"
	"github.com/drillhq/drill/plugins/plugintest"
)

// TestConformance runs the backend conformance suite over in-process gRPC
// against an archive source (an intact and a truncated .tar.gz made by
// the real tar) and a directory copy source.
func TestConformance(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("tar is required in CI: %v", err)
		}
		t.Skipf("tar not installed: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for name, body := range map[string]string{
		"etc/app.conf": "listen = :8080\n",
		"home/a.txt":   "alpha\n",
		"home/b.bin":   string(make([]byte, 300<<10)),
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good, damaged, empty := filepath.Join(dir, "good"), filepath.Join(dir, "damaged"), filepath.Join(dir, "empty")
	for _, d := range []string{good, damaged, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Two archives: the suite restores the newest.
	older, newer := filepath.Join(good, "home-1.tar.gz"), filepath.Join(good, "home-2.tar.gz")
	for _, a := range []string{older, newer} {
		if out, err := exec.Command("tar", "-czf", a, "-C", src, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v: %s", err, out)
		}
	}
	if err := os.Chtimes(older, time.Now(), time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(newer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, "home.tar.gz"), data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}

	for _, confined := range []bool{false, true} {
		// In-process, and as a real plugin process confined with Landlock
		// to its source and scratch directory, as drill runs it.
		launch := func(t *testing.T) plugins.Backend { return plugintest.GRPCBackend(t, filesystem.New()) }
		name := ""
		if confined {
			launch = func(t *testing.T) plugins.Backend { return plugintest.Process(t, filesystem.Name) }
			name = "confined/"
		}
		t.Run(name+"archive", func(t *testing.T) {
			plugintest.Suite{
				Launch:    launch,
				Good:      plugins.Source{"archive": filepath.Join(good, "*.tar.gz")},
				Empty:     plugins.Source{"archive": filepath.Join(empty, "*.tar.gz")},
				Damaged:   plugins.Source{"archive": filepath.Join(damaged, "*.tar.gz")},
				WantFiles: 3,
				Confine:   confined,
			}.Run(t)
		})
		t.Run(name+"directory", func(t *testing.T) {
			plugintest.Suite{
				Launch:    launch,
				Good:      plugins.Source{"path": src},
				Empty:     plugins.Source{"path": filepath.Join(empty, "daily.*")},
				WantFiles: 3,
				Confine:   confined,
			}.Run(t)
		})
	}
}
