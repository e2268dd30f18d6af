package manifest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Pool hashes files while another component is still writing the tree, so
// that hashing overlaps a restore: the restorer calls Add for each file it
// has finished, and Wait for the manifest. Like HashTree it never follows a
// symlink and leaves out whatever is not a regular file.
//
// Add may be called from several goroutines; Wait is called once, after
// the last Add. Cancelling the context stops the workers, also when Wait is
// never called.
type Pool struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
	root   string
	tree   *tree
	ch     chan string
	wg     sync.WaitGroup

	closeMu sync.RWMutex // Add holds it for reading, Wait for writing
	closed  bool

	errMu sync.Mutex
	err   error

	results [][]Entry
	done    sync.Once
	m       *Manifest
	waitErr error
}

// NewPool starts workers goroutines (0 means runtime.NumCPU()) that hash
// files below root as they are added.
func NewPool(ctx context.Context, root string, workers int) *Pool {
	n := workerCount(workers)
	p := &Pool{
		parent:  ctx,
		root:    root,
		ch:      make(chan string, 256*n),
		results: make([][]Entry, n),
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	tr, err := openTree(root)
	if err != nil {
		p.fail(err)
		return p
	}
	p.tree = tr
	for i := range n {
		p.wg.Go(func() { p.results[i] = p.work() })
	}
	// Close the root once the workers are done, even if Wait is never
	// called and the context is cancelled instead.
	go func() {
		p.wg.Wait()
		tr.close()
	}()
	return p
}

// Add queues the file at relPath (slash-separated, relative to root; a
// leading "./" is ignored) for hashing. It blocks while the queue is full.
// Adding a path that is not a regular file (a symlink, a directory) is not
// an error: it is left out of the manifest. Adding a path twice hashes it
// twice and keeps one entry. Add after Wait panics.
func (p *Pool) Add(relPath string) {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		panic("manifest: Pool.Add called after Pool.Wait")
	}
	for strings.HasPrefix(relPath, "./") {
		relPath = relPath[2:]
	}
	if !validPath(relPath) {
		p.fail(fmt.Errorf("add %s: want a path relative to the tree, without empty, \".\" or \"..\" elements", strconv.Quote(relPath)))
		return
	}
	select {
	case p.ch <- relPath:
	case <-p.ctx.Done():
	}
}

// Wait waits until every added file is hashed and returns their sorted
// manifest, or the first error (a file that could not be read, a bad path
// given to Add, a cancelled context). Later calls return the same.
func (p *Pool) Wait() (*Manifest, error) {
	p.done.Do(func() {
		p.closeMu.Lock()
		p.closed = true
		close(p.ch)
		p.closeMu.Unlock()
		p.wg.Wait()
		p.cancel()

		p.errMu.Lock()
		err := p.err
		p.errMu.Unlock()
		if err == nil {
			err = p.parent.Err()
		}
		if err != nil {
			p.waitErr = fmt.Errorf("hash files under %s: %w", p.root, err)
			return
		}
		m := merge(p.results)
		m.Entries = slices.CompactFunc(m.Entries, func(a, b Entry) bool { return a.Path == b.Path })
		p.m = m
	})
	return p.m, p.waitErr
}

// fail records the first error and stops the workers.
func (p *Pool) fail(err error) {
	p.errMu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.errMu.Unlock()
	p.cancel()
}

// work is one worker: it hashes added files until the queue is closed or
// the pool stops.
func (p *Pool) work() []Entry {
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	var out []Entry
	for {
		var rel string
		var ok bool
		select {
		case rel, ok = <-p.ch:
			if !ok {
				return out
			}
		case <-p.ctx.Done():
			return out
		}
		if p.ctx.Err() != nil {
			return out
		}
		path := p.tree.prefix + rel
		fd, size, skip, err := p.tree.openRegular(rel)
		if err != nil {
			p.fail(err)
			return out
		}
		if skip {
			continue
		}
		sum, n, err := hs.hashFD(p.ctx, fd, path, size)
		sysClose(fd)
		if err != nil {
			p.fail(err)
			return out
		}
		out = append(out, Entry{Path: rel, Size: n, SHA256: sum})
	}
}
