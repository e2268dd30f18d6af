package manifest

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// bufSize is the read size: large reads keep the system call cost per
	// byte low, and a small file is read with one call.
	bufSize = 256 << 10
	// largeFile is the size from which HashTree starts files largest first,
	// so that two big files do not end up one after the other on one core.
	largeFile = 8 << 20
	// batchSize is how many paths the walker hands a worker at once.
	batchSize = 64
)

// Options tune HashTree.
type Options struct {
	// Workers is the number of files hashed at once; 0 means
	// runtime.NumCPU(), which is the fastest for files in the page cache.
	Workers int
}

// hasher hashes one file at a time with a reused buffer and hash state.
type hasher struct {
	buf []byte
	h   hash.Hash
	sum [32]byte
}

var hashers = sync.Pool{New: func() any {
	return &hasher{buf: make([]byte, bufSize), h: sha256.New()}
}}

// tree is the root of a tree being hashed. Its openFile and openDir never
// follow a symlink below the root; see tree_linux.go.
type tree struct {
	root   string
	prefix string      // root ending in a separator
	fd     int         // the root directory, or -1 when files are opened by path
	atime  atomic.Bool // open files without O_NOATIME (Linux): it was refused
}

// errThroughSymlink marks a path whose directories include a symlink.
var errThroughSymlink = errors.New("a directory on the path is a symlink")

// openRegular opens the file at rel below t for reading. skip is true, and
// fd not open, when it is not a regular file (a symlink, directory, fifo,
// socket or device); those are not in a manifest.
func (t *tree) openRegular(rel string) (fd int, size int64, skip bool, err error) {
	path := t.prefix + rel
	fd, err = t.openFile(rel)
	if err != nil {
		if errors.Is(err, errThroughSymlink) {
			return -1, 0, false, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		// O_NOFOLLOW refuses a symlink (ELOOP on Linux), and a socket
		// cannot be opened at all: neither is a file to hash.
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return -1, 0, true, nil
		}
		return -1, 0, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	regular, size, err := sysFstat(fd)
	if err != nil {
		sysClose(fd)
		return -1, 0, false, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if !regular {
		sysClose(fd)
		return -1, 0, true, nil
	}
	return fd, size, false, nil
}

// hashFD hashes the open file fd from its current offset to its end and
// returns the digest and the number of bytes hashed. statSize is the size
// fstat reported; the file may still grow or shrink while it is read.
func (hs *hasher) hashFD(ctx context.Context, fd int, path string, statSize int64) (sum [32]byte, n int64, err error) {
	buf := hs.buf
	m := 0 // bytes in buf
	if statSize < int64(len(buf)) {
		// A small file is read with one system call: asking for one byte
		// more than fstat reported, getting exactly the size reported means
		// the end of the file, without a second read to see it.
		k, err := sysRead(fd, buf[:statSize+1])
		if err != nil {
			return sum, 0, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if int64(k) == statSize {
			return sha256.Sum256(buf[:k]), statSize, nil
		}
		m = k // the file changed size: read on to its end
	} else {
		adviseSequential(fd)
	}
	streaming := false
	for {
		for m < len(buf) {
			k, err := sysRead(fd, buf[m:])
			if err != nil {
				return sum, n, &fs.PathError{Op: "read", Path: path, Err: err}
			}
			if k == 0 {
				break
			}
			m += k
		}
		n += int64(m)
		if m < len(buf) { // end of file
			if !streaming {
				return sha256.Sum256(buf[:m]), n, nil
			}
			hs.h.Write(buf[:m])
			hs.h.Sum(hs.sum[:0])
			return hs.sum, n, nil
		}
		if !streaming {
			hs.h.Reset()
			streaming = true
		}
		hs.h.Write(buf)
		m = 0
		if err := ctx.Err(); err != nil {
			return sum, n, err
		}
	}
}

// HashFile returns the SHA-256 and size of the regular file at path. It
// does not follow a symlink and refuses anything but a regular file.
func HashFile(path string) (sum [32]byte, size int64, err error) {
	byPath := &tree{fd: -1}
	fd, statSize, skip, err := byPath.openRegular(path)
	if err != nil {
		return sum, 0, fmt.Errorf("hash file: %w", err)
	}
	if skip {
		return sum, 0, fmt.Errorf("hash file %s: is %s, not a regular file", path, describe(path))
	}
	defer sysClose(fd)
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	sum, size, err = hs.hashFD(context.Background(), fd, path, statSize)
	if err != nil {
		return [32]byte{}, 0, fmt.Errorf("hash file: %w", err)
	}
	return sum, size, nil
}

// describe names the kind of a file that is not a regular file.
func describe(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return "gone"
	}
	switch t := fi.Mode().Type(); {
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "a special file"
	}
}

// rootPrefix returns root cleaned and ending in a separator, ready to have
// a relative path appended.
func rootPrefix(root string) string {
	root = filepath.Clean(root)
	if strings.HasSuffix(root, string(filepath.Separator)) {
		return root
	}
	return root + string(filepath.Separator)
}

func workerCount(n int) int {
	if n <= 0 {
		return runtime.NumCPU()
	}
	return n
}

// HashTree hashes every regular file below root, opt.Workers files at a
// time, and returns the sorted manifest. It never follows a symlink (root
// itself may be one): symlinks, directories, devices, fifos and sockets are
// not in the manifest. Files of 8 MiB and more are hashed largest first, so
// that the cores finish together. A file that cannot be read is an error,
// and so is a cancelled ctx (errors.Is(err, ctx.Err()) holds).
func HashTree(ctx context.Context, root string, opt Options) (*Manifest, error) {
	tr, err := openTree(root)
	if err != nil {
		return nil, fmt.Errorf("hash tree %s: %w", root, err)
	}
	defer tr.close()
	m, err := hashTree(ctx, tr, opt)
	if err != nil {
		return nil, fmt.Errorf("hash tree %s: %w", root, err)
	}
	return m, nil
}

// hashTree is HashTree on an open tree.
func hashTree(ctx context.Context, tr *tree, opt Options) (*Manifest, error) {
	t := &treeHash{tree: tr}
	t.cond.L = &t.mu
	t.ctx, t.cancel = context.WithCancel(ctx)
	defer t.cancel()
	stop := context.AfterFunc(t.ctx, t.wake)
	defer stop()

	n := workerCount(opt.Workers)
	results := make([][]Entry, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = t.work() })
	}
	if err := t.walkDir(""); err != nil {
		t.fail(err)
	}
	t.mu.Lock()
	t.flushLocked()
	t.walked = true
	t.cond.Broadcast()
	t.mu.Unlock()
	wg.Wait()

	err := t.err
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return merge(results), nil
}

// merge joins the workers' entries into one sorted manifest.
func merge(results [][]Entry) *Manifest {
	total := 0
	for _, r := range results {
		total += len(r)
	}
	m := &Manifest{Entries: make([]Entry, 0, total)}
	for _, r := range results {
		m.Entries = append(m.Entries, r...)
	}
	m.Sort()
	return m
}

// treeHash is one HashTree run: the walker queues batches of paths, the
// workers take them. A worker that opens a large file puts it aside; large
// files are handed out largest first once the walk is done (or when there
// is nothing else to do), and the remaining small files fill the gaps.
type treeHash struct {
	*tree
	ctx    context.Context
	cancel context.CancelFunc
	cur    []string // the batch the walker is filling; walker only

	mu          sync.Mutex
	cond        sync.Cond
	batches     [][]string
	large       largeHeap
	classifying int  // batches handed out whose large files are not yet known
	walked      bool // the walker is done
	err         error
}

type largeEntry struct {
	rel  string
	size int64
}

// largeHeap is a max-heap by size.
type largeHeap []largeEntry

func (h largeHeap) Len() int { return len(h) }
func (h largeHeap) Less(i, j int) bool {
	if h[i].size != h[j].size {
		return h[i].size > h[j].size
	}
	return h[i].rel < h[j].rel
}
func (h largeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *largeHeap) Push(x any)   { *h = append(*h, x.(largeEntry)) }
func (h *largeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// wake wakes every waiting worker after ctx is done.
func (t *treeHash) wake() {
	t.mu.Lock()
	t.cond.Broadcast()
	t.mu.Unlock()
}

// fail records the first error and stops the run.
func (t *treeHash) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	t.cancel() // stops the walker and, through wake, the workers
}

// walkDir lists the directory at rel ("" for the root) and the ones
// below it, and queues their regular files.
func (t *treeHash) walkDir(rel string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	f, err := t.openDir(rel)
	if err != nil {
		return err
	}
	var subdirs []string
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			p := e.Name()
			if rel != "" {
				p = rel + "/" + p
			}
			switch typ := e.Type(); {
			case typ.IsDir():
				subdirs = append(subdirs, p)
			case typ.IsRegular():
				t.cur = append(t.cur, p)
				if len(t.cur) == batchSize {
					t.mu.Lock()
					t.flushLocked()
					t.mu.Unlock()
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = f.Close()
			return err
		}
	}
	_ = f.Close()
	for _, sub := range subdirs {
		if err := t.walkDir(sub); err != nil {
			return err
		}
	}
	return nil
}

// flushLocked queues the walker's current batch.
func (t *treeHash) flushLocked() {
	if len(t.cur) == 0 {
		return
	}
	t.batches = append(t.batches, t.cur)
	t.cur = make([]string, 0, batchSize)
	t.cond.Signal()
}

// next returns a batch of paths or one large file to hash; ok is false
// when there is nothing left or the run stopped.
func (t *treeHash) next() (batch []string, big largeEntry, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		switch {
		case t.ctx.Err() != nil:
			return nil, largeEntry{}, false
		case t.large.Len() > 0 && t.classifying == 0 && (t.walked || len(t.batches) == 0):
			return nil, heap.Pop(&t.large).(largeEntry), true
		case len(t.batches) > 0:
			batch = t.batches[0]
			t.batches[0] = nil
			t.batches = t.batches[1:]
			t.classifying++
			return batch, largeEntry{}, true
		case t.walked && t.classifying == 0 && t.large.Len() == 0:
			return nil, largeEntry{}, false
		}
		t.cond.Wait()
	}
}

// classified puts aside the large files of a batch handed out by next.
func (t *treeHash) classified(large []largeEntry) {
	t.mu.Lock()
	for _, l := range large {
		heap.Push(&t.large, l)
	}
	t.classifying--
	t.cond.Broadcast()
	t.mu.Unlock()
}

type openFile struct {
	rel  string
	fd   int
	size int64
}

// work is one worker: it hashes what next hands out until nothing is left.
func (t *treeHash) work() []Entry {
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	var out []Entry
	var open []openFile
	var large []largeEntry
	for {
		batch, big, ok := t.next()
		if !ok {
			return out
		}
		if batch == nil {
			fd, size, skip, err := t.openRegular(big.rel)
			if err != nil {
				t.fail(err)
				return out
			}
			if skip {
				continue
			}
			sum, n, err := hs.hashFD(t.ctx, fd, t.prefix+big.rel, size)
			sysClose(fd)
			if err != nil {
				t.fail(err)
				return out
			}
			out = append(out, Entry{Path: big.rel, Size: n, SHA256: sum})
			continue
		}

		// Open the whole batch first, so the large files in it are known
		// (and can be started largest first) before the small ones are
		// hashed.
		open, large = open[:0], large[:0]
		var err error
		for _, rel := range batch {
			var (
				fd   int
				size int64
				skip bool
			)
			fd, size, skip, err = t.openRegular(rel)
			if err != nil {
				break
			}
			switch {
			case skip:
			case size >= largeFile:
				sysClose(fd)
				large = append(large, largeEntry{rel: rel, size: size})
			default:
				open = append(open, openFile{rel: rel, fd: fd, size: size})
			}
		}
		t.classified(large)
		for i, f := range open {
			if err == nil {
				err = t.ctx.Err()
			}
			if err != nil {
				for _, g := range open[i:] {
					sysClose(g.fd)
				}
				break
			}
			var sum [32]byte
			var n int64
			sum, n, err = hs.hashFD(t.ctx, f.fd, t.prefix+f.rel, f.size)
			sysClose(f.fd)
			if err == nil {
				out = append(out, Entry{Path: f.rel, Size: n, SHA256: sum})
			}
		}
		if err != nil {
			t.fail(err)
			return out
		}
	}
}
