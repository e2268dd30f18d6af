package scratchdb

import (
	"errors"
	"slices"
	"sync"
)

// Registry keeps the scratch databases a backend announced (or was asked
// to drop after a crash), each with what is needed to reach its server
// (S), until they are dropped. The zero value is ready for use; it is safe
// for use from several goroutines.
type Registry[S any] struct {
	mu sync.Mutex
	m  map[string]S
}

// Remember keeps name, on server, for Drop. Names that do not have the
// shape Name gives are ignored: a backend never drops a database it
// did not name.
func (sc *Registry[S]) Remember(name string, server S) {
	if !IsName(name) {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.m == nil {
		sc.m = map[string]S{}
	}
	sc.m[name] = server
}

// Drop calls drop for each database kept, in name order, without holding
// the lock, and forgets those dropped. It returns every drop's error; the
// databases that failed are kept for the next Drop.
func (sc *Registry[S]) Drop(drop func(name string, server S) error) error {
	sc.mu.Lock()
	names := make([]string, 0, len(sc.m))
	for name := range sc.m {
		names = append(names, name)
	}
	sc.mu.Unlock()
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		sc.mu.Lock()
		server, ok := sc.m[name]
		sc.mu.Unlock()
		if !ok {
			continue
		}
		if err := drop(name, server); err != nil {
			errs = append(errs, err)
			continue
		}
		sc.mu.Lock()
		delete(sc.m, name)
		sc.mu.Unlock()
	}
	return errors.Join(errs...)
}
