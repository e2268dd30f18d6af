package restic

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/drillhq/drill/plugins"
)

// localErrors are the error texts of a restic restore that say the
// target cannot take what restic writes: the machine's problem (scratch
// full, a quota, a read-only mount), not the backup's.
var localErrors = []string{"no space left on device", "disk quota exceeded", "read-only file system"}

// guard stops a running `restic restore` that cannot end well: one that
// would write more than RestoreRequest.MaxBytes, judged on restic's own
// status lines (total_bytes is known once restic has walked the
// snapshot's trees, before it writes file contents; bytes_restored as it
// writes), and one that cannot write into the target any more. It stops
// restic by cancelling its context, so restic gets SIGINT and removes its
// lock, and it records why as a Problem of kind error: the restore proves
// nothing about the backup.
type guard struct {
	maxBytes int64
	target   string
	short    string // the snapshot's short ID
	cancel   context.CancelFunc

	mu      sync.Mutex
	problem *plugins.Problem
}

// newGuard returns the context to run restic with and its guard. release
// must be called when restic has exited.
func newGuard(ctx context.Context, req *plugins.RestoreRequest) (context.Context, *guard) {
	ctx, cancel := context.WithCancel(ctx)
	short := req.PointID
	if short == "" { // RestoreRequest.Newest: restic finds it
		short = "latest"
	}
	if len(short) > 8 {
		short = short[:8]
	}
	return ctx, &guard{maxBytes: req.MaxBytes, target: req.Target, short: short, cancel: cancel}
}

func (g *guard) release() { g.cancel() }

// guardFPS is restic's status rate when a limit is to be kept: restic
// reports total_bytes and bytes_restored only in its status lines, and
// at the usual 2 per second a fast disk takes in half a gigabyte between
// two of them (measured: 488 MB of a 2 GiB file, with max_scratch_bytes at
// 64 MiB). At 20 a second the overshoot is a twentieth of a second of
// writing.
const guardFPS = "20"

// env is what restic's environment needs for the guard.
func (g *guard) env() []string {
	if g.maxBytes <= 0 {
		return nil
	}
	return []string{"RESTIC_PROGRESS_FPS=" + guardFPS}
}

// stop records the first reason to stop and cancels restic.
func (g *guard) stop(p plugins.Problem) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.problem == nil {
		g.problem = &p
		g.cancel()
	}
}

// bytes checks restic's status or summary line against MaxBytes.
func (g *guard) bytes(m Message) {
	if g.maxBytes <= 0 || max(m.TotalBytes, m.BytesRestored) <= g.maxBytes {
		return
	}
	g.stop(plugins.Problem{Kind: plugins.ProblemError, Message: fmt.Sprintf(
		"restore would exceed max_scratch_bytes (%d bytes): snapshot %s needs %d bytes; restic was stopped after writing %d",
		g.maxBytes, g.short, max(m.TotalBytes, m.BytesRestored), m.BytesRestored)})
}

// stderr looks at each message restic prints on stderr for an error that
// says the target cannot be written. The message must name the target:
// the same words about the repository (a lock file on a read-only mount)
// are restic's to report.
func (g *guard) stderr(m Message) {
	if m.Kind != "error" && m.Kind != "exit_error" || !strings.Contains(m.Text, g.target) {
		return
	}
	reason, ok := localError(m.Text)
	if !ok {
		return
	}
	item := strings.TrimPrefix(m.Item, "/")
	what := "into the target"
	if item != "" {
		what = fmt.Sprintf("%q into the target", item)
	}
	g.stop(plugins.Problem{Kind: plugins.ProblemError, Path: item, Message: fmt.Sprintf(
		"restore stopped: restic could not write %s: %s (restic said: %s)", what, reason, oneLine(m.Text))})
}

// problems returns why the guard stopped restic, or nil.
func (g *guard) problems() []plugins.Problem {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.problem == nil {
		return nil
	}
	return []plugins.Problem{*g.problem}
}

// localError returns which of localErrors text reports.
func localError(text string) (string, bool) {
	lower := strings.ToLower(text)
	for _, e := range localErrors {
		if strings.Contains(lower, e) {
			return e, true
		}
	}
	return "", false
}

// noteSize remembers the size a listed snapshot's summary gives (restic
// 0.17 and newer write one into every snapshot).
func (b *Backend) noteSize(id string, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sizes == nil {
		b.sizes = map[string]int64{}
	}
	b.sizes[id] = size
}

// tooBig refuses a whole-snapshot restore whose listed summary is past
// req.MaxBytes before restic writes anything. The summary counts the
// content of hard-linked files once per link, which restic restores once,
// so it may refuse a restore that would fit by that much. A summary is
// only what the backup says about itself: the guard keeps watching
// restic's own totals while it restores. A sample of one slice is the
// whole snapshot; a slice of several may fit where the whole does not (what
// sampling is for), and is left to the guard.
func (b *Backend) tooBig(req *plugins.RestoreRequest, s *source) *plugins.RestoreResponse {
	if req.MaxBytes <= 0 || len(s.include) > 0 || (req.Sample != nil && req.Sample.Slices > 1) {
		return nil
	}
	b.mu.Lock()
	size, ok := b.sizes[req.PointID]
	b.mu.Unlock()
	if !ok || size <= req.MaxBytes {
		return nil
	}
	return &plugins.RestoreResponse{
		Point:   plugins.RestorePoint{ID: req.PointID},
		Details: map[string]string{},
		Problems: []plugins.Problem{{Kind: plugins.ProblemError, Message: fmt.Sprintf(
			"restore would exceed max_scratch_bytes (%d bytes): snapshot %s holds %d bytes by its summary; restic was not started",
			req.MaxBytes, req.PointID[:8], size)}},
	}
}
