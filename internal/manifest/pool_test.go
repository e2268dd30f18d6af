//go:build unix

package manifest

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestPoolMakesTheManifestHashTreeMakes adds every entry of a tree, as a
// restorer reporting what it wrote would (from several goroutines, with
// symlinks, directories and a duplicate among them), and gets what HashTree
// makes of the same tree.
func TestPoolMakesTheManifestHashTreeMakes(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, oddNames)
	addSpecialFiles(t, dir)
	want, err := HashTree(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		all = append(all, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, "./plain.txt") // reported twice, once with "./"

	for _, workers := range []int{0, 1, 3} {
		p := NewPool(t.Context(), dir, workers)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				for j := i; j < len(all); j += 3 {
					p.Add(all[j])
				}
			})
		}
		wg.Wait()
		got, err := p.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Entries, want.Entries) {
			t.Errorf("%d workers: got %s\nwant %s", workers, show(got.Entries), show(want.Entries))
		}
		if again, err := p.Wait(); again != got || err != nil {
			t.Errorf("a second Wait returned %v, %v; want the same manifest", again, err)
		}
	}
}

func TestPoolErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "a"})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		root string
		add  []string
		want string
	}{
		{"a file that is not there", t.Context(), dir, []string{"a", "missing"},
			"hash files under " + dir + ": open " + dir + "/missing: no such file or directory"},
		{"a path leaving the tree", t.Context(), dir, []string{"a", "../etc/passwd"},
			`add "../etc/passwd": want a path relative to the tree`},
		{"an absolute path", t.Context(), dir, []string{"/etc/passwd"},
			`add "/etc/passwd": want a path relative to the tree`},
		{"a missing root", t.Context(), filepath.Join(dir, "nope"), []string{"a"},
			"no such file or directory"},
		{"a cancelled context", cancelled, dir, []string{"a"}, context.Canceled.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(tt.ctx, tt.root, 2)
			for _, rel := range tt.add {
				p.Add(rel) // must not block, whatever went wrong
			}
			m, err := p.Wait()
			if err == nil || m != nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want no manifest and an error containing %q", m, err, tt.want)
			}
		})
	}
}

func TestPoolAddDoesNotBlockAfterCancel(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "a"})
	ctx, cancel := context.WithCancel(t.Context())
	p := NewPool(ctx, dir, 1)
	cancel()
	for range 10000 { // far more than the queue holds
		p.Add("a")
	}
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want %v", err, context.Canceled)
	}
}

func TestPoolAddAfterWaitPanics(t *testing.T) {
	p := NewPool(t.Context(), t.TempDir(), 1)
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Add after Wait did not panic")
		}
	}()
	p.Add("a")
}
