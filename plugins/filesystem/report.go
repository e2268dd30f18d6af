package filesystem

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

// reporter batches restored files and progress for RestoreEvents. It is
// safe for use from several goroutines and makes one call at a time.
type reporter struct {
	mu      sync.Mutex
	ev      plugins.RestoreEvents
	pending []plugins.File
	// bytesDone returns the bytes done so far for progress.
	bytesDone  func() int64
	bytesTotal int64

	files, bytes int64 // files reported so far and their bytes
	lastFiles    time.Time
	lastProgress time.Time
	err          error // sticky: the host has gone away
}

func newReporter(ev plugins.RestoreEvents, bytesTotal int64, bytesDone func() int64) *reporter {
	now := time.Now()
	return &reporter{ev: ev, bytesDone: bytesDone, bytesTotal: bytesTotal, lastFiles: now, lastProgress: now}
}

// file reports one restored regular file, closed and complete.
func (r *reporter) file(f plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, f)
	r.files++
	r.bytes += f.Size
	return r.maybeLocked(false)
}

// tick reports pending files and progress if they are due.
func (r *reporter) tick() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maybeLocked(false)
}

// close reports every pending file and the final progress.
func (r *reporter) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maybeLocked(true)
}

// counts returns the files reported and their bytes.
func (r *reporter) counts() (files, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files, r.bytes
}

func (r *reporter) maybeLocked(final bool) error {
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
		p := plugins.Progress{
			FilesDone: r.files, FilesTotal: -1,
			BytesDone: r.bytesDone(), BytesTotal: r.bytesTotal,
		}
		if err := r.ev.Progress(p); err != nil {
			r.err = fmt.Errorf("report progress: %w", err)
			return r.err
		}
		r.lastProgress = now
	}
	return nil
}

// problems collects the problems of a restore, at most maxProblems of
// each kind. It is safe for use from several goroutines.
type problems struct {
	mu      sync.Mutex
	list    []plugins.Problem
	counts  map[plugins.ProblemKind]int
	dropped map[plugins.ProblemKind]int
}

func (p *problems) add(kind plugins.ProblemKind, path, msg string) {
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

// all returns the problems, with one summing up those left out.
func (p *problems) all() []plugins.Problem {
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
