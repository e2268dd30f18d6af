package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/plugins"
)

// Name is the backend's name in the config's `backend:` field.
const Name = "filesystem"

// Version is the version of this backend's behaviour, recorded in evidence.
const Version = "1.0.0"

// Source keys.
const (
	keyPath    = "path"
	keyArchive = "archive"
	keyStamp   = "stamp"
)

// Backend restores directory copies and tar archives. The zero value is
// ready to use; New returns one with the measured defaults.
type Backend struct {
	// zstdConcurrency is the number of zstd decoder goroutines; 0 means
	// the default.
	zstdConcurrency int
	// copyWorkers is the number of files a directory copy copies at once;
	// 0 means the default.
	copyWorkers int
}

var _ plugins.Backend = (*Backend)(nil)

// New returns the filesystem backend.
func New() plugins.Backend {
	return &Backend{}
}

// Describe names the backend and its source keys.
func (b *Backend) Describe(ctx context.Context, req *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{
		Name:       Name,
		Version:    Version,
		Kind:       plugins.KindFiles,
		Sampling:   true,
		SourceKeys: plugins.Keys(source{}),
	}, nil
}

// source is a filesystem source: its tagged fields are the source keys
// (plugins.Keys, plugins.Decode); pattern and archive are derived from them.
type source struct {
	pathKey string `source:"path,glob" doc:"directory copy to restore (rsync, rsnapshot, cp -a); a glob picks the matching directory written last, and without stamp the newest ctime in the copy (when it was last written) is the backup time. Exactly one of path and archive is required."`
	// archiveKey is the archive key's glob.
	archiveKey string `source:"archive,glob" doc:"tar archive to restore (.tar, .tar.gz/.tgz, .tar.zst, detected from its content); a glob picks the newest match by mtime, which is the backup time."`
	// stamp is the stamp file relative to the directory, or empty. It is a
	// string, not a path: it names a file inside each matching directory,
	// so the host must not resolve it against the config's folder.
	stamp string `source:"stamp" doc:"with path: a file relative to the copied directory that the backup job touches when it has finished; its mtime is the backup time, and directories without it are not restore points."`
	// pattern is the path or archive glob.
	pattern string
	// archive is true for an archive source, false for a directory copy.
	archive bool
}

// parseSource decodes a source and returns every problem with it.
func parseSource(src plugins.Source) (source, []plugins.Problem) {
	var s source
	if problems := plugins.Decode(src, &s); len(problems) > 0 {
		return s, problems
	}
	var problems []plugins.Problem
	bad := func(key, format string, args ...any) {
		problems = append(problems, plugins.Problem{Kind: plugins.ProblemError, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	_, hasPath := src[keyPath]
	_, hasArchive := src[keyArchive]
	switch {
	case hasPath && hasArchive:
		bad(keyArchive, "path and archive exclude each other: set only one")
	case !hasPath && !hasArchive:
		bad(keyPath, "one of path (a directory copy) or archive (a tar archive) is required")
	}
	for _, kp := range [][2]string{{keyPath, s.pathKey}, {keyArchive, s.archiveKey}} {
		k, p := kp[0], kp[1]
		_, given := src[k]
		switch {
		case !given:
		case p == "":
			bad(k, "%s must not be empty", k)
		case !filepath.IsAbs(p):
			bad(k, "%s %q must be absolute (the host resolves relative paths against the config file's folder)", k, p)
		default:
			if _, err := filepath.Match(p, ""); err != nil {
				bad(k, "%s %q is not a valid glob: %v", k, p, err)
				continue
			}
			s.pattern = p
			s.archive = k == keyArchive
		}
	}
	if _, given := src[keyStamp]; given {
		s.stamp = checkStamp(s.stamp, hasPath, hasArchive, bad)
	}
	return s, problems
}

// checkStamp checks the stamp key and returns it cleaned, or "" after
// reporting a problem.
func checkStamp(st string, hasPath, hasArchive bool, bad func(key, format string, args ...any)) string {
	switch {
	case st == "":
		bad(keyStamp, "stamp must not be empty")
	case hasArchive && !hasPath:
		bad(keyStamp, "stamp applies only to path (an archive's own mtime is its backup time)")
	case strings.HasPrefix(st, "/"):
		bad(keyStamp, "stamp %q must be relative to the copied directory", st)
	case hasDotDot(st):
		bad(keyStamp, "stamp %q must stay inside the copied directory (no .. components)", st)
	case path.Clean(st) == ".":
		bad(keyStamp, "stamp %q must name a file inside the copied directory", st)
	default:
		return path.Clean(st)
	}
	return ""
}

// hasDotDot reports whether a slash-separated name has a ".." component.
func hasDotDot(name string) bool {
	for c := range strings.SplitSeq(name, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// problemsError turns validation problems into one error.
func problemsError(problems []plugins.Problem) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Message
	}
	return fmt.Errorf("invalid filesystem source: %s", strings.Join(msgs, "; "))
}

// ValidateSource checks the source's keys and values without touching the
// backup. Every problem names its key.
func (b *Backend) ValidateSource(ctx context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	_, problems := parseSource(req.Source)
	return &plugins.ValidateSourceResponse{Problems: problems}, nil
}

// ListRestorePoints lists the source's restore points, newest first: every
// matching archive, every stamped directory, or the newest matching
// directory without a stamp. Nothing matching is an empty list, not an
// error. An invalid source or a malformed glob is an error.
func (b *Backend) ListRestorePoints(ctx context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	s, problems := parseSource(req.Source)
	if len(problems) > 0 {
		return nil, problemsError(problems)
	}
	matches, err := filepath.Glob(s.pattern)
	if err != nil {
		return nil, fmt.Errorf("list restore points of %s: %w", s.pattern, err)
	}
	var points []plugins.RestorePoint
	var probs []plugins.Problem
	if s.archive {
		points, probs = listArchives(matches)
	} else {
		points, probs, err = listDirs(ctx, matches, s.stamp, globbed(s.pattern))
		if err != nil {
			return nil, fmt.Errorf("list restore points of %s: %w", s.pattern, err)
		}
	}
	return &plugins.ListRestorePointsResponse{Points: points, Problems: probs}, nil
}

// sortNewestFirst orders points by time, newest first, then by ID.
func sortNewestFirst(points []plugins.RestorePoint) {
	sort.SliceStable(points, func(i, j int) bool {
		if !points[i].Time.Equal(points[j].Time) {
			return points[i].Time.After(points[j].Time)
		}
		return points[i].ID > points[j].ID
	})
}

// listArchives turns the regular files among matches into restore points.
// Matches that vanish or are directories, FIFOs or devices are not
// restore points, and neither are symlinks: an archive is read only as a
// regular file, never through a link (which could make a drill of whatever
// the link points at, on the host). A "latest" link beside the archives it
// points at is usual and skipped; a glob that matches only links is a fail
// problem naming them (see onlyLinks).
func listArchives(matches []string) ([]plugins.RestorePoint, []plugins.Problem) {
	var points []plugins.RestorePoint
	var probs []plugins.Problem
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil {
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			_, err := safefile.Lstat(m, "archive")
			probs = append(probs, plugins.Problem{Kind: plugins.ProblemFail, Path: m, Message: err.Error()})
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		points = append(points, archivePoint(m, fi))
	}
	sortNewestFirst(points)
	return points, onlyLinks(points, probs)
}

// onlyLinks returns the problems of the symlinks a glob matched when they
// are all it matched, and none otherwise: a link beside the backups it
// points at (a "latest" link) is no reason to fail a drill of them.
func onlyLinks(points []plugins.RestorePoint, links []plugins.Problem) []plugins.Problem {
	if len(points) > 0 {
		return nil
	}
	return links
}

// globbed reports whether pattern has glob characters: its matches are
// then whatever is on disk, not a path the operator wrote.
func globbed(pattern string) bool { return strings.ContainsAny(pattern, `*?[\`) }

// copyRoot returns the file info of the directory copy m. A match of a
// glob must be a directory itself, not a symlink to one (a link named like
// the newest copy could make a drill of live data); a path written without
// glob characters may be a symlink the operator made (a "latest" link).
func copyRoot(m string, glob bool) (fs.FileInfo, error) {
	if !glob {
		return os.Stat(m)
	}
	fi, err := os.Lstat(m)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("directory copy %s is a symlink: drill restores a glob's matches only as directories, never through a link (name the copy itself, or write the link's path without glob characters): %w", m, safefile.ErrNotRegular)
	}
	return fi, err
}

// stampTime returns the mtime of the stamp in dir, false when there is
// none, and an error when it is not a regular file (a symlink to a fresh
// file would fake the copy's backup time).
func stampTime(dir, stamp string) (time.Time, bool, error) {
	st, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(stamp)))
	if err != nil {
		return time.Time{}, false, nil
	}
	if !st.Mode().IsRegular() {
		_, err := safefile.Lstat(filepath.Join(dir, filepath.FromSlash(stamp)), "stamp")
		return time.Time{}, false, err
	}
	return st.ModTime(), true, nil
}

func archivePoint(id string, fi fs.FileInfo) plugins.RestorePoint {
	return plugins.RestorePoint{
		ID:          id,
		Time:        fi.ModTime(),
		Size:        fi.Size(),
		Files:       -1,
		Description: filepath.Base(id),
		TimeBasis:   plugins.BasisArchiveMtime,
	}
}

// listDirs turns the directories among matches into restore points. A
// glob's match that is a symlink is skipped (a fail problem naming it when
// nothing else matched, see onlyLinks); a stamp that is not a regular file
// is a fail problem naming it (see stampTime).
func listDirs(ctx context.Context, matches []string, stamp string, glob bool) ([]plugins.RestorePoint, []plugins.Problem, error) {
	type dir struct {
		path string
		fi   fs.FileInfo
	}
	var dirs []dir
	var links, probs []plugins.Problem
	for _, m := range matches {
		fi, err := copyRoot(m, glob)
		if errors.Is(err, safefile.ErrNotRegular) {
			links = append(links, plugins.Problem{Kind: plugins.ProblemFail, Path: m, Message: err.Error()})
			continue
		}
		if err != nil || !fi.IsDir() {
			continue
		}
		dirs = append(dirs, dir{m, fi})
	}
	if len(dirs) == 0 {
		return nil, links, nil
	}
	if stamp != "" {
		var points []plugins.RestorePoint
		for _, d := range dirs {
			t, ok, err := stampTime(d.path, stamp)
			if err != nil {
				probs = append(probs, plugins.Problem{Kind: plugins.ProblemFail, Path: d.path, Message: err.Error()})
				continue
			}
			if !ok {
				continue // not marked complete: not a restore point
			}
			points = append(points, plugins.RestorePoint{
				ID: d.path, Time: t, Size: -1, Files: -1,
				Description: filepath.Base(d.path), TimeBasis: plugins.BasisStampMtime,
			})
		}
		sortNewestFirst(points)
		return points, probs, nil
	}
	// The newest copy is the one whose own directory was written last.
	// Its mtime would not do: cp -a and rsync -a give every copy of an
	// unchanged source the same one. Only the chosen copy is walked.
	newest := dirs[0]
	for _, d := range dirs[1:] {
		t, nt := writtenTime(d.fi), writtenTime(newest.fi)
		if t.After(nt) || (t.Equal(nt) && d.path > newest.path) {
			newest = d
		}
	}
	sum, err := scanTree(ctx, newest.path)
	if err != nil {
		return nil, nil, err
	}
	return []plugins.RestorePoint{{
		ID: newest.path, Time: sum.newest, Size: sum.bytes, Files: sum.files,
		Description: filepath.Base(newest.path), TimeBasis: copyBasis,
	}}, probs, nil
}

// Cleanup has nothing to remove: the backend creates nothing outside
// Target, and the host removes Target. It is idempotent.
func (b *Backend) Cleanup(ctx context.Context, req *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	return &plugins.CleanupResponse{}, nil
}

// Restore restores the archive or directory copy req.PointID into
// req.Target. Damage and refused entries are problems in the response;
// a returned error means the restore could not be carried out (a bad
// request, an unusable target, a cancelled ctx, the host gone).
func (b *Backend) Restore(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	s, problems := parseSource(req.Source)
	if len(problems) > 0 {
		return nil, problemsError(problems)
	}
	if !filepath.IsAbs(req.PointID) {
		return nil, fmt.Errorf("restore point %q is not an absolute path", req.PointID)
	}
	if ok, _ := filepath.Match(s.pattern, req.PointID); !ok {
		return nil, fmt.Errorf("restore point %s is not a match of %s", req.PointID, s.pattern)
	}
	if !filepath.IsAbs(req.Target) {
		return nil, fmt.Errorf("restore target %q is not an absolute path", req.Target)
	}
	if events == nil {
		events = discardEvents{}
	}
	// Say at once that the restore has started: the host takes a restore
	// that reports nothing by the drill's timeout for a hung backend.
	if err := events.Progress(plugins.Progress{FilesTotal: -1, BytesTotal: -1}); err != nil {
		return nil, err
	}
	if s.archive {
		return b.restoreArchive(ctx, req, events)
	}
	return b.restoreDir(ctx, req, s.stamp, globbed(s.pattern), events)
}

// vanished is the response for a restore point that no longer exists.
func vanished(req *plugins.RestoreRequest, format string, err error) *plugins.RestoreResponse {
	kind, msg := plugins.ProblemFail, fmt.Sprintf("restore point %s vanished: it was listed but no longer exists", req.PointID)
	if !errors.Is(err, fs.ErrNotExist) {
		kind, msg = unreadable(fmt.Sprintf("restore point %s cannot be opened", req.PointID), err)
	}
	resp := &plugins.RestoreResponse{
		Point: plugins.RestorePoint{
			ID: req.PointID, Size: -1, Files: -1, Description: filepath.Base(req.PointID),
		},
		Problems: []plugins.Problem{{Kind: kind, Path: req.PointID, Message: msg}},
		Details:  map[string]string{},
	}
	if format != "" {
		resp.Details["format"] = format
	}
	return resp
}

// unreadable judges a read of the backup that failed with err; what says
// what was being read. Permission denied says that drill's user may not
// read the backup (a copy made as root keeps files only root may read),
// not that the backup is damaged: the drill could not be carried out, an
// error, and the message says what to do. Anything else fails the drill.
func unreadable(what string, err error) (plugins.ProblemKind, string) {
	if errors.Is(err, fs.ErrPermission) {
		return plugins.ProblemError, fmt.Sprintf("%s: permission denied: drill runs as uid %d, which may not read the whole backup; run drill as a user that can (root, or one given CAP_DAC_READ_SEARCH)", what, os.Getuid())
	}
	return plugins.ProblemFail, fmt.Sprintf("%s: %v", what, errText(err))
}

// discardEvents is used when the caller passes no events.
type discardEvents struct{}

func (discardEvents) Progress(plugins.Progress) error { return nil }
func (discardEvents) Files([]plugins.File) error      { return nil }
func (discardEvents) Scratch(string) error            { return nil }
