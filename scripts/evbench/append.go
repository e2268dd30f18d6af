package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
)

// appendEach creates a new log at path and appends n records to it, one
// Append each (one durable commit per record unless the store shares
// commits between concurrent appends), from workers goroutines that each
// append their share in turn, as the agent's drills do. The signing key
// is made beside path, in path's folder/keys.
func appendEach(path string, n, workers int) error {
	if path == "" || n < 1 || workers < 1 {
		return errors.New("append needs -db FILE, -n of at least 1 and -workers of at least 1")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: append measures a new log", path)
	}
	key, err := keys.LoadOrCreate(filepath.Join(filepath.Dir(path), "keys"), origin)
	if err != nil {
		return err
	}
	s, err := evidence.Open(path, evidence.Options{Origin: origin, Key: key})
	if err != nil {
		return err
	}
	g := gen{drills: 12, services: 4}
	first := time.Now().Add(-time.Duration(n) * spacing)
	start := time.Now()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := s.Append(g.record(i, first.Add(time.Duration(i)*spacing))); err != nil {
					errs[w] = fmt.Errorf("append record %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(append(errs, s.Close())...); err != nil {
		return err
	}
	fmt.Printf("%d records, one Append each from %d goroutines: %.3f s, %.0f us per record\n",
		n, workers, took.Seconds(), float64(took.Microseconds())/float64(n))
	return nil
}
