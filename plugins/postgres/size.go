package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// sizeEvery is how often the scratch database's size is taken while the
// client tool restores into it.
const sizeEvery = 500 * time.Millisecond

// sizeWatch follows the growth of the scratch database while a client
// tool restores into it: for progress, for the record, and to stop the
// restore once the growth passes the drill's max_scratch_bytes, before the
// server's disk fills. The growth is pg_database_size less the size of
// the freshly created (empty) database.
type sizeWatch struct {
	conn  *pgx.Conn // to the maintenance database, where the scratch one was created
	name  string
	limit int64 // 0: none
	base  int64
	grown *atomic.Int64 // the restore's, for its progress
	over  atomic.Bool
	// stopTool ends the client tool when the limit is passed.
	stopTool context.CancelFunc

	quit chan struct{}
	done sync.WaitGroup
	err  error // of the last size taken; read after stop
}

// start takes the size of the empty database and then polls until stop.
func (w *sizeWatch) start(ctx context.Context) error {
	size, err := w.size(ctx)
	if err != nil {
		return err
	}
	w.base = size
	w.quit = make(chan struct{})
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(sizeEvery)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.measure(ctx); err != nil {
					// The tool's own failure says more; a size
					// not taken is retried at the next tick.
					w.err = err
				}
			}
		}
	}()
	return nil
}

// stop ends the polling and takes the final size.
func (w *sizeWatch) stop(ctx context.Context) error {
	close(w.quit)
	w.done.Wait()
	w.err = w.measure(ctx)
	return w.err
}

func (w *sizeWatch) measure(ctx context.Context) error {
	size, err := w.size(ctx)
	if err != nil {
		return err
	}
	grown := max(size-w.base, 0)
	w.grown.Store(grown)
	if w.limit > 0 && grown > w.limit && !w.over.Swap(true) {
		w.stopTool()
	}
	return nil
}

func (w *sizeWatch) size(ctx context.Context) (int64, error) {
	var n int64
	if err := w.conn.QueryRow(ctx, "SELECT pg_database_size($1)", w.name).Scan(&n); err != nil {
		return 0, fmt.Errorf("take the size of scratch database %s: %w", w.name, err)
	}
	return n, nil
}
