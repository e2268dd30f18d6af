package manifest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// atimeOf is the access time of path.
func atimeOf(t *testing.T, path string) time.Time {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Atim.Unix())
}

// A freshly restored file is hashed without updating its access time: an
// inode write per file that the hashing does not need.
func TestHashTreeLeavesAtime(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "alpha", "sub/b": "beta", "control": "gamma"})
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, name := range []string{"a", "sub/b", "control"} {
		// An access time older than the modification time: the next read
		// updates it, under relatime as under strictatime.
		if err := os.Chtimes(filepath.Join(dir, name), old, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.ReadFile(filepath.Join(dir, "control")); err != nil {
		t.Fatal(err)
	}
	if atimeOf(t, filepath.Join(dir, "control")).Equal(old) {
		t.Skip("this file system does not update access times (noatime): nothing to avoid")
	}
	if err := os.Remove(filepath.Join(dir, "control")); err != nil {
		t.Fatal(err)
	}
	m, err := HashTree(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 {
		t.Fatalf("hashed %d files, want 2", len(m.Entries))
	}
	for _, name := range []string{"a", "sub/b"} {
		if got := atimeOf(t, filepath.Join(dir, name)); !got.Equal(old) {
			t.Errorf("%s: access time %v after hashing, want it left at %v", name, got, old)
		}
	}
}

// A process that does not own the files (and may not bypass that) is
// refused O_NOATIME; it hashes them all the same.
func TestHashTreeNotOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the hashing as another user")
	}
	dir, err := os.MkdirTemp("", "manifest-notowner-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	writeTree(t, dir, map[string]string{"a": "alpha", "sub/b": "beta"})
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want, err := HashTree(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wantText bytes.Buffer
	if _, err := want.WriteTo(&wantText); err != nil {
		t.Fatal(err)
	}
	// The test binary, where the other user may run it.
	bin, err := os.MkdirTemp("", "manifest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "manifest.test"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "manifest.test"))
	cmd.Env = append(os.Environ(), "DRILL_TEST_HASH_TREE="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hashing as uid 65534: %v", err)
	}
	if !bytes.Equal(out, wantText.Bytes()) {
		t.Errorf("as uid 65534:\n%s\nwant\n%s", out, wantText.Bytes())
	}
}
