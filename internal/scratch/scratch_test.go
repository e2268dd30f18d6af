package scratch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNewAndRemove(t *testing.T) {
	root := filepath.Join(t.TempDir(), "scratch")
	d, err := New(root, "home")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root, d.Path, d.Target} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o700); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	// A restored tree with a read-only directory must still be removed.
	ro := filepath.Join(d.Target, "ro")
	if err := os.MkdirAll(filepath.Join(ro, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "sub", "f"), []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(ro, "sub"), 0o500); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d.Path); !os.IsNotExist(err) {
		t.Errorf("scratch %s still exists after Remove (err %v)", d.Path, err)
	}
	if err := d.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestNewTightensRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "scratch")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, "x"); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(root)
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("root mode = %v, want 0700", got)
	}
}

func TestNewRefusesSymlinkRoot(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "scratch")
	if err := os.Symlink(outside, root); err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, "x"); err == nil {
		t.Fatal("New accepted a symlinked scratch root")
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Errorf("New wrote %d entries through the symlink", len(ents))
	}
}

func TestClean(t *testing.T) {
	root := filepath.Join(t.TempDir(), "scratch")
	a, _ := New(root, "a")
	b, _ := New(root, "b")
	removed, err := Clean(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(removed), 2; got != want {
		t.Fatalf("removed %d, want %d", got, want)
	}
	for _, d := range []*Dir{a, b} {
		if _, err := os.Lstat(d.Path); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d.Path)
		}
	}
	if _, err := Clean(filepath.Join(root, "missing")); err != nil {
		t.Errorf("Clean of a missing root: %v", err)
	}
}
