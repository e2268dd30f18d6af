// Package restoreevents batches what a built-in backend reports during a restore
// (restored files and progress) and caps the problems it returns, so that
// a restore of a million files, or of a million damaged ones, stays cheap
// for the host.
package restoreevents

import (
	"fmt"
	"sync"
	"time"

	"github.com/drillhq/drill/plugins"
)

const (
	// filesBatch and reportEvery bound how long restored files wait before
	// they are reported, and how often progress is reported.
	filesBatch  = 256
	reportEvery = 100 * time.Millisecond
	// maxProblems caps the problems of each kind listed in a response, so
	// that a hostile archive of a million bad entries cannot flood the
	// host; the rest are summed up in one more problem.
	maxProblems = 100
)

// Batcher batches restored files and progress for RestoreEvents. It is
// safe for use from several goroutines and makes one call at a time.
type Batcher struct {
	mu      sync.Mutex
	ev      plugins.RestoreEvents
	pending []plugins.File
	// progress returns the progress to report, given the files and bytes
	// reported so far.
	progress func(files, bytes int64) plugins.Progress

	files, bytes int64 // files reported so far and their bytes
	lastFiles    time.Time
	lastProgress time.Time
	err          error // sticky: the host has gone away
}

// New returns a Batcher for ev; progress says how far the restore is,
// given the files and bytes reported so far.
func New(ev plugins.RestoreEvents, progress func(files, bytes int64) plugins.Progress) *Batcher {
	now := time.Now()
	return &Batcher{ev: ev, progress: progress, lastFiles: now, lastProgress: now}
}

// BytesProgress is a progress function for New from a byte counter and
// the total bytes (-1 when unknown); the file total is unknown.
func BytesProgress(bytesTotal int64, bytesDone func() int64) func(files, bytes int64) plugins.Progress {
	return func(files, _ int64) plugins.Progress {
		return plugins.Progress{FilesDone: files, FilesTotal: -1, BytesDone: bytesDone(), BytesTotal: bytesTotal}
	}
}

// File reports one restored regular file, closed and complete.
func (r *Batcher) File(f plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, f)
	r.files++
	r.bytes += f.Size
	return r.maybeLocked(false)
}

// Tick reports pending files and progress if they are due.
func (r *Batcher) Tick() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maybeLocked(false)
}

// Close reports every pending file and the final progress.
func (r *Batcher) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maybeLocked(true)
}

// Counts returns the files reported and their bytes.
func (r *Batcher) Counts() (files, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files, r.bytes
}

func (r *Batcher) maybeLocked(final bool) error {
	if r.err != nil {
		return r.err
	}
	now := time.Now()
	if len(r.pending) > 0 && (final || len(r.pending) >= filesBatch || now.Sub(r.lastFiles) >= reportEvery) {
		if err := r.ev.Files(r.pending); err != nil {
			r.err = fmt.Errorf("report restored files: %w", err)
			return r.err
		}
		r.pending = make([]plugins.File, 0, filesBatch)
		r.lastFiles = now
	}
	if final || now.Sub(r.lastProgress) >= reportEvery {
		if err := r.ev.Progress(r.progress(r.files, r.bytes)); err != nil {
			r.err = fmt.Errorf("report progress: %w", err)
			return r.err
		}
		r.lastProgress = now
	}
	return nil
}

// Problems collects the problems of a restore, at most maxProblems of
// each kind. It is safe for use from several goroutines. The zero value is
// ready for use.
type Problems struct {
	mu      sync.Mutex
	list    []plugins.Problem
	counts  map[plugins.ProblemKind]int
	dropped map[plugins.ProblemKind]int
}

// Add adds a problem of kind about path (or "").
func (p *Problems) Add(kind plugins.ProblemKind, path, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts == nil {
		p.counts = map[plugins.ProblemKind]int{}
		p.dropped = map[plugins.ProblemKind]int{}
	}
	if p.counts[kind] >= maxProblems {
		p.dropped[kind]++
		return
	}
	p.counts[kind]++
	p.list = append(p.list, plugins.Problem{Kind: kind, Path: path, Message: msg})
}

// All returns the problems, with one summing up those left out.
func (p *Problems) All() []plugins.Problem {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]plugins.Problem(nil), p.list...)
	for _, kind := range []plugins.ProblemKind{plugins.ProblemFail, plugins.ProblemError} {
		if n := p.dropped[kind]; n > 0 {
			out = append(out, plugins.Problem{
				Kind:    kind,
				Message: fmt.Sprintf("%d more problems like the ones above were not listed", n),
			})
		}
	}
	return out
}
