package filesystem

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/restoreevents"
)

const (
	// defaultCopyWorkers copy files at once in a directory copy: one per
	// core of the two-core hosts drill is sized for.
	defaultCopyWorkers = 2
	// copyBuffer is the read size when copying a file.
	copyBuffer = 1 << 20
	// copyBatch is the most files of one directory a worker takes at
	// once. Workers take different directories where they can: creating
	// files in one directory is serialised by the kernel, and two workers
	// contending for it only burn the second core spinning.
	copyBatch = 128
)

// walkTree calls visit for every entry below root (not root itself),
// parents before children, never following symlinks: all entries of a
// directory in byte order, then its subdirectories, so a directory's files
// come together. visit returns whether to descend into a directory. A
// directory that cannot be read, or an entry that cannot be stat'ed, goes
// to bad; the walk goes on. walkTree returns only ctx's error.
func walkTree(ctx context.Context, root *os.Root, visit func(rel string, fi fs.FileInfo) bool, bad func(rel string, err error)) error {
	var walk func(dir string) error
	walk = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := root.Open(dir)
		if err != nil {
			bad(dir, err)
			return nil
		}
		ents, err := f.ReadDir(-1)
		_ = f.Close()
		if err != nil {
			bad(dir, err)
		}
		slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		var subdirs []string
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel := e.Name()
			if dir != "." {
				rel = dir + "/" + rel
			}
			fi, err := e.Info()
			if err != nil {
				bad(rel, err)
				continue
			}
			if visit(rel, fi) && fi.IsDir() {
				subdirs = append(subdirs, rel)
			}
		}
		for _, sub := range subdirs {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(".")
}

// treeSummary is what a walk learns about a directory copy.
type treeSummary struct {
	// newest is when the copy was last written: the newest writtenTime
	// of any entry (files, directories, links), the top included. A copy
	// of data unchanged for months made a minute ago is a minute old; one
	// from which a file was deleted since is as old as the deletion.
	newest       time.Time
	files, bytes int64 // regular files and their bytes
}

func (s *treeSummary) add(fi fs.FileInfo) {
	if t := writtenTime(fi); t.After(s.newest) {
		s.newest = t
	}
	if fi.Mode().IsRegular() {
		s.files++
		s.bytes += fi.Size()
	}
}

// scanTree walks the directory copy at dir. Entries that cannot be read
// are left out; the restore reports them.
func scanTree(ctx context.Context, dir string) (treeSummary, error) {
	var sum treeSummary
	root, err := os.OpenRoot(dir)
	if err != nil {
		return sum, err
	}
	defer root.Close()
	if fi, err := root.Stat("."); err == nil {
		sum.add(fi)
	}
	err = walkTree(ctx, root,
		func(rel string, fi fs.FileInfo) bool { sum.add(fi); return true },
		func(string, error) {})
	return sum, err
}

// copyJob is a regular file for a copy worker.
type copyJob struct {
	rel   string
	mode  fs.FileMode
	mtime time.Time
	size  int64
}

// dirCopy copies a directory copy into the target.
type dirCopy struct {
	src, dst *os.Root
	srcPath  string
	stamp    string // the source's stamp, or empty
	tree     *tree
	rep      *restoreevents.Batcher
	probs    restoreevents.Problems
	maxBytes int64
	reserved atomic.Int64 // bytes of regular files taken on
	copied   atomic.Int64 // bytes copied so far
	skipped  int64        // special files skipped
	sum      treeSummary
	chain    rootChain // the Root, from every entry's name
	batch    []copyJob // files of one directory, for one worker
	cancel   context.CancelFunc
	sample   *plugins.Sample // nil: restore everything
	stopped  atomic.Bool     // a problem stopped the restore
	repErr   atomic.Pointer[error]
}

// restoreDir copies the directory copy req.PointID into req.Target.
func (b *Backend) restoreDir(ctx context.Context, req *plugins.RestoreRequest, stamp string, glob bool, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	resp := &plugins.RestoreResponse{
		Point:   plugins.RestorePoint{ID: req.PointID, Size: -1, Files: -1, Description: filepath.Base(req.PointID)},
		Details: map[string]string{"format": formatDirectory},
	}
	src, done := openCopy(req, stamp, glob, resp)
	if src == nil {
		return done, nil
	}
	defer src.Close()
	dst, err := os.OpenRoot(req.Target)
	if err != nil {
		return nil, fmt.Errorf("open restore target: %w", err)
	}
	defer dst.Close()

	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &dirCopy{src: src, dst: dst, srcPath: req.PointID, stamp: stamp, tree: newTree(dst), maxBytes: req.MaxBytes, cancel: cancel, sample: req.Sample}
	c.rep = restoreevents.New(events, restoreevents.BytesProgress(-1, c.copied.Load))
	if top, err := src.Stat("."); err == nil {
		c.sum.add(top)
	}
	walkErr := c.run(ictx, b.copyWorkers)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
	}
	if p := c.repErr.Load(); p != nil {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, *p)
	}
	if walkErr != nil && !c.stopped.Load() {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, walkErr)
	}
	if err := c.rep.Close(); err != nil {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
	}
	resp.Files, resp.Bytes = c.rep.Counts()
	resp.Point.Root = c.chain.root()
	if stamp == "" {
		resp.Point.Time, resp.Point.TimeBasis = c.sum.newest, copyBasis
	}
	if !c.stopped.Load() { // the walk saw the whole copy
		resp.Point.Files, resp.Point.Size = c.sum.files, c.sum.bytes
		if req.Sample != nil {
			resp.TotalFiles, resp.TotalBytes = c.sum.files, c.sum.bytes
		}
	}
	resp.Problems = c.probs.All()
	resp.Details["skipped_special"] = strconv.FormatInt(c.skipped, 10)
	return resp, nil
}

// openCopy opens the directory copy req.PointID and reads its stamp's
// time into resp. When it cannot, it returns no root and resp with the
// problem that says why.
func openCopy(req *plugins.RestoreRequest, stamp string, glob bool, resp *plugins.RestoreResponse) (*os.Root, *plugins.RestoreResponse) {
	failed := func(msg string) (*os.Root, *plugins.RestoreResponse) {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Path: req.PointID, Message: msg})
		return nil, resp
	}
	fi, err := copyRoot(req.PointID, glob)
	if errors.Is(err, safefile.ErrNotRegular) {
		return failed(err.Error())
	}
	if err != nil {
		return nil, vanished(req, formatDirectory, err)
	}
	if !fi.IsDir() {
		return failed(fmt.Sprintf("restore point %s is no longer a directory", req.PointID))
	}
	src, err := os.OpenRoot(req.PointID)
	if err != nil {
		kind, msg := unreadable(fmt.Sprintf("restore point %s cannot be opened", req.PointID), err)
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: kind, Path: req.PointID, Message: msg})
		return nil, resp
	}
	if stamp == "" {
		return src, nil
	}
	st, err := src.Lstat(stamp)
	if err == nil && st.Mode().IsRegular() {
		resp.Point.Time, resp.Point.TimeBasis = st.ModTime(), plugins.BasisStampMtime
		return src, nil
	}
	_ = src.Close()
	if err != nil {
		return failed(fmt.Sprintf("stamp %s is missing from %s: the copy is not marked complete", stamp, req.PointID))
	}
	_, err = safefile.Lstat(filepath.Join(req.PointID, filepath.FromSlash(stamp)), "stamp")
	return failed(err.Error())
}

// run walks the copy and copies its files with workers goroutines (the
// default when 0), then sets the directories' modes and times. It
// returns the walk's error.
func (c *dirCopy) run(ctx context.Context, workers int) error {
	if workers <= 0 {
		workers = defaultCopyWorkers
	}
	jobs := make(chan []copyJob, 4)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := &copyWorker{
				c:   c,
				buf: make([]byte, copyBuffer),
				src: dirCache{root: c.src, open: map[string]*os.File{}},
				dst: dirCache{root: c.dst, open: map[string]*os.File{}},
			}
			defer w.src.close()
			defer w.dst.close()
			for batch := range jobs {
				for _, j := range batch {
					if ctx.Err() == nil {
						w.copyFile(ctx, j)
					}
				}
			}
		})
	}
	walkErr := walkTree(ctx, c.src,
		func(rel string, fi fs.FileInfo) bool { return c.visit(ctx, rel, fi, jobs) },
		func(rel string, err error) {
			kind, msg := unreadable(fmt.Sprintf("%q cannot be read from the copy %s", rel, c.srcPath), err)
			c.probs.Add(kind, rel, msg)
		})
	c.flush(ctx, jobs)
	close(jobs)
	wg.Wait()
	if err := c.tree.finish(); err != nil && !c.stopped.Load() {
		c.probs.Add(plugins.ProblemError, "", fmt.Sprintf("set the mode and mtime of restored directories: %v", err))
	}
	return walkErr
}

// visit handles one entry of the source walk: directories and symlinks
// are created here, regular files go to the workers.
func (c *dirCopy) visit(ctx context.Context, rel string, fi fs.FileInfo, jobs chan<- []copyJob) bool {
	c.sum.add(fi)
	if rel != c.stamp { // the backup job's mark, not backed-up data
		c.chain.add(rel, fi.IsDir())
	}
	switch mode := fi.Mode(); {
	case mode.IsDir():
		if err := c.tree.mkdirPlain(rel, mode, fi.ModTime()); err != nil {
			c.entryErr(rel, err)
			return false
		}
		return true
	case !c.sample.Has(rel): // a file or link of another slice
	case mode.IsRegular():
		if c.maxBytes > 0 && c.reserved.Add(fi.Size()) > c.maxBytes {
			c.stopTooBig(rel)
			return false
		}
		if len(c.batch) > 0 && (len(c.batch) == copyBatch || path.Dir(c.batch[0].rel) != path.Dir(rel)) {
			c.flush(ctx, jobs)
		}
		c.batch = append(c.batch, copyJob{rel: rel, mode: mode & 0o777, mtime: fi.ModTime(), size: fi.Size()})
	case mode&fs.ModeSymlink != 0:
		target, err := c.src.Readlink(rel)
		if err != nil {
			kind, msg := unreadable(fmt.Sprintf("symlink %q cannot be read from the copy %s", rel, c.srcPath), err)
			c.probs.Add(kind, rel, msg)
			return false
		}
		c.entryErr(rel, c.tree.symlink(rel, target))
	default:
		c.skipped++
	}
	return false
}

// flush hands the files gathered so far to a worker.
func (c *dirCopy) flush(ctx context.Context, jobs chan<- []copyJob) {
	if len(c.batch) == 0 {
		return
	}
	select {
	case jobs <- c.batch:
	case <-ctx.Done():
	}
	c.batch = nil
}

// entryErr records the outcome of creating one entry in the target.
func (c *dirCopy) entryErr(rel string, err error) {
	if err == nil {
		return
	}
	var r *refusal
	switch {
	case errors.As(err, &r):
		c.probs.Add(plugins.ProblemFail, rel, r.msg)
	case isLocalError(err):
		c.stop(rel, err)
	default:
		c.probs.Add(plugins.ProblemFail, rel, fmt.Sprintf("%q could not be restored: %v", rel, errText(err)))
	}
}

// stop records a local error that ends the restore.
func (c *dirCopy) stop(rel string, err error) {
	if c.stopped.Swap(true) {
		return
	}
	c.probs.Add(plugins.ProblemError, rel, fmt.Sprintf("restore stopped: writing %q into the target: %v", rel, errText(err)))
	c.cancel()
}

func (c *dirCopy) stopTooBig(rel string) {
	if c.stopped.Swap(true) {
		return
	}
	c.probs.Add(plugins.ProblemError, rel, fmt.Sprintf(
		"restore would exceed max_scratch_bytes (%d bytes): stopped at %q", c.maxBytes, rel))
	c.cancel()
}

// testHookCopyFile, when set by a test, runs before a file is copied.
var testHookCopyFile func(rel string)

// copyWorker copies regular files. Each worker keeps its own open
// directories of the copy and of the target.
type copyWorker struct {
	c        *dirCopy
	buf      []byte
	src, dst dirCache
}

// copyFile copies one regular file, hashing what it reads, and reports it.
func (w *copyWorker) copyFile(ctx context.Context, j copyJob) {
	c := w.c
	if testHookCopyFile != nil {
		testHookCopyFile(j.rel)
	}
	cannotRead := func(err error) {
		kind, msg := unreadable(fmt.Sprintf("%q cannot be read from the copy %s", j.rel, c.srcPath), err)
		c.probs.Add(kind, j.rel, msg)
	}
	in, out := w.open(j, cannotRead)
	if out == nil {
		return
	}
	defer in.Close()
	discard := func() {
		out.abort()
		_ = c.dst.Remove(j.rel)
	}
	h := sha256.New()
	var n int64
	accounted := j.size // bytes of this file counted against maxBytes
	for {
		if ctx.Err() != nil {
			discard()
			return
		}
		m, rerr := in.Read(w.buf)
		if m > 0 {
			if _, err := out.Write(w.buf[:m]); err != nil {
				discard()
				c.stop(j.rel, err)
				return
			}
			h.Write(w.buf[:m])
			n += int64(m)
			c.copied.Add(int64(m))
			if n > accounted { // the file grew since the walk
				grown := n - accounted
				accounted = n
				if c.maxBytes > 0 && c.reserved.Add(grown) > c.maxBytes {
					discard()
					c.stopTooBig(j.rel)
					return
				}
			}
			c.reportErr(c.rep.Tick())
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			discard()
			cannotRead(rerr)
			return
		}
	}
	if err := out.finish(j.mode, j.mtime); err != nil {
		c.stop(j.rel, err)
		return
	}
	c.reportErr(c.rep.File(plugins.File{Path: j.rel, Size: n, SHA256: h.Sum(nil)}))
}

// open opens the file of j in the copy and creates it in the target.
// Without the pair it has recorded why.
func (w *copyWorker) open(j copyJob, cannotRead func(error)) (*os.File, *outFile) {
	c := w.c
	dir, base := path.Dir(j.rel), path.Base(j.rel)
	srcDir, err := w.src.get(dir)
	if err != nil {
		cannotRead(err)
		return nil, nil
	}
	in, err := openIn(c.src, srcDir, base, j.rel)
	if err != nil {
		cannotRead(err)
		return nil, nil
	}
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = in.Close()
		c.probs.Add(plugins.ProblemFail, j.rel, fmt.Sprintf("%q changed in the copy %s while it was restored", j.rel, c.srcPath))
		return nil, nil
	}
	dstDir, err := w.dst.get(dir)
	if err == nil {
		var out *outFile
		if out, err = createIn(c.dst, dstDir, base, j.rel); err == nil {
			return in, out
		}
	}
	_ = in.Close()
	c.entryErr(j.rel, err)
	return nil, nil
}

// reportErr stops the restore when the host has gone away.
func (c *dirCopy) reportErr(err error) {
	if err != nil {
		c.repErr.CompareAndSwap(nil, &err)
		c.cancel()
	}
}
