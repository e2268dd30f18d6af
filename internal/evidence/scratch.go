package evidence

import (
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"
)

// bucketScratch holds the scratch resources (databases) backends announced
// before creating them, until their removal is confirmed, so that a drill
// that crashed leaves nothing behind for long: the next run removes what
// is older than the longest drill timeout, and never anything else.
var bucketScratch = []byte("scratch")

// Scratch is a scratch resource a backend created for a drill.
type Scratch struct {
	Name    string `json:"name"`
	Drill   string `json:"drill"`
	Backend string `json:"backend"`
	// Source is the drill's source as passed to the backend (JSON), so the
	// backend can reach the resource again; it holds no secrets, only
	// references to them.
	Source  json.RawMessage `json:"source"`
	Created time.Time       `json:"created"`
}

func scratchKey(backend, name string) []byte { return []byte(backend + "\x00" + name) }

// NoteScratch records a scratch resource before it is created. It is
// durable when NoteScratch returns.
func (s *Store) NoteScratch(sc Scratch) error {
	return s.putJSON(bucketScratch, scratchKey(sc.Backend, sc.Name), sc)
}

// ScratchDone forgets a scratch resource whose removal was confirmed.
func (s *Store) ScratchDone(backend, name string) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketScratch)
		if b == nil {
			return nil
		}
		return b.Delete(scratchKey(backend, name))
	})
}

// ScratchLeft returns the scratch resources whose removal was never
// confirmed, oldest first.
func (s *Store) ScratchLeft() ([]Scratch, error) {
	return listJSON(s, bucketScratch, "scratch record", func(sc Scratch) time.Time { return sc.Created })
}
