// Package scratch owns the scratch space that drills restore into: one
// private directory per drill run under state_dir/scratch, always removed
// afterwards, and stale ones (left by a crash) removed at start.
package scratch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the scratch directory of one drill run.
type Dir struct {
	// Path is the run's private directory (mode 0700).
	Path string
	// Target is the empty directory the backend restores into (mode 0700).
	Target string
}

// New creates a fresh scratch directory for drill under root. root is
// created with mode 0700 when missing; an existing root that group or others
// can enter is tightened to 0700, because restored data is often sensitive.
func New(root, drill string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create scratch root %s: %w", root, err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("create scratch root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("scratch root %s is not a directory (a symlink?); remove it", root)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(root, 0o700); err != nil {
			return nil, fmt.Errorf("restrict scratch root %s to mode 0700: %w", root, err)
		}
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	p := filepath.Join(root, drill+"-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(p, 0o700); err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	d := &Dir{Path: p, Target: filepath.Join(p, "target")}
	if err := os.Mkdir(d.Target, 0o700); err != nil {
		_ = RemoveAll(p)
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	return d, nil
}

// Remove deletes the scratch directory and everything restored into it,
// also files and directories the backup made read-only. It is idempotent.
func (d *Dir) Remove() error {
	if err := RemoveAll(d.Path); err != nil {
		return fmt.Errorf("remove scratch directory %s: %w", d.Path, err)
	}
	return nil
}

// Empty removes everything restored into the target, leaving it an empty
// directory again (mode 0700), for a second restore in the same run.
func (d *Dir) Empty() error {
	if err := RemoveAll(d.Target); err != nil {
		return fmt.Errorf("empty scratch directory %s: %w", d.Target, err)
	}
	if err := os.Mkdir(d.Target, 0o700); err != nil {
		return fmt.Errorf("empty scratch directory %s: %w", d.Target, err)
	}
	return nil
}

// RemoveAll removes path like os.RemoveAll, first giving the owner write and
// search permission on every directory below it (a restored tree may hold
// read-only directories that os.RemoveAll cannot empty as a non-root user).
// It never follows symlinks.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil {
		return nil
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				_ = os.Chmod(p, 0o700)
			}
			return nil
		}
		if d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// Clean removes every scratch directory under root, as left behind by a
// drill process that was killed. It must only run when no drill is running
// on this state directory (the caller holds the evidence store's lock). It
// returns the directories removed.
func Clean(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean scratch root %s: %w", root, err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(root, e.Name())
		if err := RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove stale scratch %s: %w", p, err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
