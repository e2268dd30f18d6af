package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// TestHashTreeNeverOpensWhatASymlinkPointsTo watches, with inotify, a
// directory outside the tree that symlinks in the tree point to: HashTree
// must leave the symlinks out and never open the directory or the file.
func TestHashTreeNeverOpensWhatASymlinkPointsTo(t *testing.T) {
	base := t.TempDir()
	tree, outside := filepath.Join(base, "tree"), filepath.Join(base, "outside")
	writeTree(t, tree, map[string]string{"a": "a"})
	writeTree(t, outside, map[string]string{"secret": "do not read"})
	for name, target := range map[string]string{
		"link-to-file": filepath.Join(outside, "secret"),
		"link-to-dir":  outside,
		"relative":     "../outside/secret",
	} {
		if err := os.Symlink(target, filepath.Join(tree, name)); err != nil {
			t.Fatal(err)
		}
	}

	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, outside, syscall.IN_OPEN|syscall.IN_ACCESS); err != nil {
		t.Fatal(err)
	}
	events := func() int {
		buf := make([]byte, 4096)
		n, err := syscall.Read(fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, workers := range []int{1, 4} {
		m, err := HashTree(t.Context(), tree, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Entries, []Entry{{"a", 1, digestOf(t, hexA)}}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %s, want only the regular file %s", show(got), show(want))
		}
	}
	p := NewPool(t.Context(), tree, 2)
	for _, rel := range []string{"a", "link-to-file", "link-to-dir", "relative", "link-to-dir/secret"} {
		p.Add(rel)
	}
	_, poolErr := p.Wait()
	if n := events(); n != 0 {
		t.Errorf("got %d bytes of inotify events: something outside the tree was opened", n)
	}
	// link-to-dir/secret goes through a symlinked directory, which
	// O_NOFOLLOW alone does not guard: the pool must refuse it.
	if want := "link-to-dir/secret: a directory on the path is a symlink"; poolErr == nil || !strings.Contains(poolErr.Error(), want) {
		t.Errorf("got error %v, want one containing %q", poolErr, want)
	}

	// The watch works: opening the file ourselves is seen.
	if _, _, err := HashFile(filepath.Join(outside, "secret")); err != nil {
		t.Fatal(err)
	}
	if events() == 0 {
		t.Fatal("inotify saw no open of the outside file even when it was opened; the test proves nothing")
	}
}

// TestHashTreeWithoutOpenat2 runs HashTree the way it runs where openat2
// is missing (Linux before 5.6, or filtered by seccomp): by path, with
// O_NOFOLLOW. The manifest must be the same.
func TestHashTreeWithoutOpenat2(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, oddNames)
	addSpecialFiles(t, dir)
	want, err := HashTree(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	byPath := &tree{root: dir, prefix: rootPrefix(dir), fd: -1}
	got, err := hashTree(t.Context(), byPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Entries, want.Entries) {
		t.Errorf("got %s\nwant %s", show(got.Entries), show(want.Entries))
	}
}
