package plugintest

import (
	"fmt"
	"sync"

	"github.com/drillhq/drill/plugins"
)

// Recorder is a plugins.RestoreEvents that records what a backend reports
// during a restore, for tests of backends. It is safe for use from several
// goroutines. The zero value is ready for use.
type Recorder struct {
	// RefuseScratch makes Scratch fail, as a host that could not record the
	// scratch resource does: the backend must then not create it.
	RefuseScratch bool

	mu       sync.Mutex
	progress []plugins.Progress
	files    []plugins.File
	scratch  []string
}

// Events is what a Recorder recorded, in the order it was reported.
type Events struct {
	Progress []plugins.Progress
	Files    []plugins.File
	// Scratch are the scratch resources announced (not those refused).
	Scratch []string
}

// Events returns a copy of what r recorded so far.
func (r *Recorder) Events() Events {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Events{
		Progress: append([]plugins.Progress(nil), r.progress...),
		Files:    append([]plugins.File(nil), r.files...),
		Scratch:  append([]string(nil), r.scratch...),
	}
}

// Progress records p.
func (r *Recorder) Progress(p plugins.Progress) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
	return nil
}

// Files records fs.
func (r *Recorder) Files(fs []plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files = append(r.files, fs...)
	return nil
}

// Scratch records name, or refuses it when RefuseScratch is set.
func (r *Recorder) Scratch(name string) error {
	if r.RefuseScratch {
		return fmt.Errorf("the host refuses scratch resource %s", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scratch = append(r.scratch, name)
	return nil
}
