package restic

import (
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A drill's manifest and paths entries are relative to the snapshot's path
// when it has one (plugins.RestorePoint.Root): a manifest made with
// `cd /srv/files && sha256sum ...` lists "a.txt" where the restore holds
// srv/files/a.txt. Where that path is in the snapshot's tree depends on how
// `restic backup` was given it, which the snapshot does not record: an
// absolute path is stored whole (/srv/files/a.txt), a relative one by what
// is left of it once cleaned ("files" as /files/a.txt, "." and "../files"
// at the top, as /a.txt), while the snapshot's paths are always absolute.

// notePaths remembers a listed snapshot's paths, for its Root.
func (b *Backend) notePaths(id string, paths []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paths == nil {
		b.paths = map[string][]string{}
	}
	b.paths[id] = paths
}

// pathsOf returns the paths of a snapshot ListRestorePoints listed; nil
// for one it did not (Root is then "").
func (b *Backend) pathsOf(id string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paths[id]
}

// listedRoot is the Root the snapshot's paths suggest: its one path
// without the leading "/" ("srv/files"); "" for a snapshot of several
// paths, of "/", or of a path that is not a slash-separated absolute one
// (a Windows snapshot's "C:\data").
func listedRoot(paths []string) string {
	if len(paths) != 1 || !strings.HasPrefix(paths[0], "/") {
		return ""
	}
	return strings.Trim(path.Clean(paths[0]), "/")
}

// restoredRoot is where the snapshot's one path is in the tree restored
// below target: the longest tail of its listed path ("srv/files", then
// "files") that is the target's only top-level entry followed by real
// directories, down to the path itself; its folder when the path is a
// file; "" when no tail is there (a backup of "."). A snapshot of "." whose
// only entry is a folder named like the backed-up one (/srv/files holding
// just files/) cannot be told from a backup of "files" and is taken for
// one. Symlinks are never followed: a link is not the snapshot's path.
func restoredRoot(target string, paths []string) string {
	root := listedRoot(paths)
	if root == "" {
		return ""
	}
	dir, err := os.Open(target)
	if err != nil {
		return ""
	}
	top, err := dir.ReadDir(2)
	_ = dir.Close() // read-only
	if err != nil || len(top) != 1 {
		return ""
	}
	elems := strings.Split(root, "/")
	for k, el := range elems {
		if el != top[0].Name() {
			continue
		}
		tail := elems[k:]
		switch kind := kindBeneath(target, tail); {
		case kind.IsDir():
			return strings.Join(tail, "/")
		case kind.IsRegular():
			return strings.Join(tail[:len(tail)-1], "/")
		}
	}
	return ""
}

// kindBeneath is the type of target/elems..., found without following a
// symlink in any component; os.ModeIrregular when it is not there or the
// way to it is not directories.
func kindBeneath(target string, elems []string) os.FileMode {
	p := target
	for i, el := range elems {
		p = filepath.Join(p, el)
		fi, err := os.Lstat(p)
		if err != nil {
			return os.ModeIrregular
		}
		if i == len(elems)-1 {
			return fi.Mode().Type()
		}
		if !fi.IsDir() {
			return os.ModeIrregular
		}
	}
	return os.ModeIrregular
}
