package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// localHost is this process, with the config and the evidence store of
// its state_dir, when no agent runs: drills run here, and every reading
// opens the store read-only for as long as it takes.
type localHost struct {
	e   *env
	cfg *config.Config
	// r runs drills; store is its evidence store, open for writing. Both
	// are made by the first Recover or Run.
	r     *drills.Runner
	store *evidence.Store
}

var _ drillHost = (*localHost)(nil)

// noStoreError is an evidence store that could not be opened read-only
// (most often: no drill has run with this state_dir yet).
type noStoreError struct{ err error }

func (e *noStoreError) Error() string { return e.err.Error() }
func (e *noStoreError) Unwrap() error { return e.err }

func (l *localHost) InAgent() bool { return false }

// runner makes the runner of this process's drills, opening the store
// for writing (and creating the signing key on first use).
func (l *localHost) runner() (*drills.Runner, error) {
	if l.r != nil {
		return l.r, nil
	}
	launcher, err := l.e.launcher(l.cfg)
	if err != nil {
		return nil, withCode(exitError, err)
	}
	if l.store, err = openStore(l.cfg, false); err != nil {
		return nil, withCode(exitError, err)
	}
	l.r = &drills.Runner{
		Config: l.cfg, Launcher: launcher, Recorder: l.store, ScratchRoot: drills.ScratchRoot(l.cfg.StateDir),
		Logger: l.e.logger(), Host: drills.Hostname(), Version: version,
		Scratch: l.store, Marks: l.store,
	}
	return l.r, nil
}

func (l *localHost) Recover(ctx context.Context) ([]*record.Record, error) {
	r, err := l.runner()
	if err != nil {
		return nil, err
	}
	recs, err := r.Recover(ctx)
	if err != nil {
		return nil, withCode(exitError, err)
	}
	return recs, nil
}

func (l *localHost) Run(ctx context.Context, drill string, w runWatch) (*record.Record, error) {
	r, err := l.runner()
	if err != nil {
		return nil, err
	}
	r.Progress = w.progress
	return r.Run(ctx, drill)
}

// Drills lists the config's drills with their next run as the agent
// would schedule them on this host, and the newest record of each in the
// store (none when it cannot be read).
func (l *localHost) Drills(context.Context) ([]agent.DrillStatus, error) {
	last := map[string]*record.Record{}
	_ = l.withStore(func(store *evidence.Store) error {
		if !store.Indexed() {
			// A store an earlier version wrote to: one read of it.
			return store.History(evidence.HistoryFilter{}, func(en *evidence.Entry) error {
				if _, ok := last[en.Record.Drill]; !ok {
					last[en.Record.Drill] = en.Record
				}
				return nil
			})
		}
		for _, n := range l.cfg.DrillNames() {
			_ = store.History(evidence.HistoryFilter{Drill: n, Limit: 1}, func(en *evidence.Entry) error {
				last[n] = en.Record
				return nil
			})
		}
		return nil
	})
	var rows []agent.DrillStatus
	now, host := time.Now(), drills.Hostname()
	for _, n := range l.cfg.DrillNames() {
		d := l.cfg.Drills[n]
		rows = append(rows, agent.DrillStatus{Name: n, Service: d.Service, Backend: d.Backend,
			Schedule: d.Schedule, NextRun: agent.NextRun(d, host, now), Last: last[n]})
	}
	return rows, nil
}

func (l *localHost) History(_ context.Context, f agent.HistoryFilter, fn func(*record.Record, []byte) error) error {
	return l.withStore(func(store *evidence.Store) error {
		return store.HistoryJSON(f, func(en *evidence.Entry, js []byte) error { return fn(en.Record, js) })
	})
}

func (l *localHost) Evidence(_ context.Context, q drills.PositionQuery) (recs []*record.Record, checkpoint string, err error) {
	err = l.withStore(func(store *evidence.Store) error {
		cp, _ := store.Checkpoint()
		checkpoint = string(cp)
		recs, err = q.StoreRecords(store)
		return err
	})
	if _, ok := errors.AsType[*noStoreError](err); ok {
		// No store yet: nothing has been proven.
		return nil, "", nil
	}
	return recs, checkpoint, err
}

// Export opens the store with the log's signing key, which signs the
// export statement: an error opening it is a usage error.
func (l *localHost) Export(_ context.Context, sel selection, w io.Writer) error {
	return exportStore(l.cfg, sel, w)
}

func (l *localHost) Verify(ctx context.Context, opt evidence.VerifyOptions) (*agent.VerifyResult, error) {
	var res *agent.VerifyResult
	err := l.withStore(func(store *evidence.Store) (err error) {
		res, err = verifyStore(ctx, store, opt)
		return err
	})
	return res, err
}

func (l *localHost) Close() error {
	if l.store == nil {
		return nil
	}
	return l.store.Close()
}

// withStore calls fn with the evidence store opened read-only, and
// returns what fn returns, or a *noStoreError.
func (l *localHost) withStore(fn func(*evidence.Store) error) error {
	store, err := openStore(l.cfg, true)
	if err != nil {
		return &noStoreError{err}
	}
	defer store.Close()
	return fn(store)
}
