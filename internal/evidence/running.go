package evidence

import (
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"

	"github.com/drillhq/drill/internal/record"
)

// bucketRunning holds a start marker for each drill under way, written
// before its restore begins and removed in the transaction that appends
// its record. A marker left behind is a drill whose process died (kill -9,
// power loss): the next start records it as interrupted.
var bucketRunning = []byte("running")

// Running is the start marker of a drill under way.
type Running struct {
	Drill   string    `json:"drill"`
	Service string    `json:"service"`
	Backend string    `json:"backend"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	// PID is the process that runs the drill.
	PID int `json:"pid"`
}

// NoteRunning writes the start marker of a drill; it is durable when
// NoteRunning returns. A drill has one marker at a time: a newer one
// replaces an older one.
func (s *Store) NoteRunning(r Running) error {
	return s.putJSON(bucketRunning, []byte(r.Drill), r)
}

// RunningLeft returns the start markers no record has cleared, oldest
// first: the drills that were under way when their process died.
func (s *Store) RunningLeft() ([]Running, error) {
	return listJSON(s, bucketRunning, "start marker of drill", func(r Running) time.Time { return r.Started })
}

// clearRunning removes the start marker that rec finishes, in the append
// transaction: the marker of the same drill with the same start time.
func clearRunning(tx *bbolt.Tx, rec *record.Record) error {
	b := tx.Bucket(bucketRunning)
	if b == nil {
		return nil
	}
	v := b.Get([]byte(rec.Drill))
	if v == nil {
		return nil
	}
	var r Running
	if err := json.Unmarshal(v, &r); err == nil && !r.Started.Equal(rec.Started) {
		return nil
	}
	return b.Delete([]byte(rec.Drill))
}
