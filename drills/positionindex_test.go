package drills

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

// indexConfig: a service reviewed weekly with a plain and a sampled drill,
// one reviewed daily, one never reviewed (review_every 0) with a sampled
// drill, whose coverage reads every pass.
const indexConfig = `
services:
  weekly: {owner: a@x, priority: 1, review_every: 7d}
  daily: {owner: b@x, priority: 2, review_every: 1d}
  ever: {owner: c@x, priority: 2}
drills:
  plain: {service: weekly, backend: fake, source: {a: b}}
  sampled: {service: weekly, backend: fake, source: {a: b}}
  quick: {service: daily, backend: fake, source: {a: b}}
  forever: {service: ever, backend: fake, source: {a: b}}
`

// The position from the records PositionQuery.Records reads through the
// store's index is byte for byte the position from every record, on
// random logs (verdicts, sampling with changing seeds, finished times out
// of log order, drills not in the config) at many times.
func TestPositionFromIndex(t *testing.T) {
	cfg, err := config.Parse("", []byte(indexConfig))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 99))
		store, all := randomStore(t, rng, start, 150+rng.IntN(150))
		for range 40 {
			at := start.Add(time.Duration(rng.IntN(40*24)) * time.Hour)
			recs, err := PositionQueryFor(cfg, at).Records(store)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(Position(cfg, recs, at))
			want, _ := json.Marshal(Position(cfg, all, at))
			if string(got) != string(want) {
				t.Fatalf("seed %d, at %s: from %d indexed records:\n%s\nfrom all %d:\n%s", seed, at, len(recs), got, len(all), want)
			}
			if len(recs) > 4*(2*trendRuns+8) && len(recs) > len(all)/2 {
				t.Errorf("seed %d: the index read %d of %d records", seed, len(recs), len(all))
			}
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// randomStore appends n random records to a new store and returns it with
// every record read back.
func randomStore(t *testing.T, rng *rand.Rand, start time.Time, n int) (*evidence.Store, []*record.Record) {
	t.Helper()
	store, err := evidence.Open(filepath.Join(t.TempDir(), "drill.db"), evidence.Options{Origin: logtest.Origin, Key: logtest.Key(t, logtest.Origin)})
	if err != nil {
		t.Fatal(err)
	}
	drills := []string{"plain", "sampled", "quick", "forever", "gone"}
	verdicts := []record.Verdict{record.VerdictPass, record.VerdictPass, record.VerdictPass, record.VerdictFail, record.VerdictError, record.VerdictInterrupted}
	for i := range n {
		r := logtest.Record(i, verdicts[rng.IntN(len(verdicts))])
		r.Drill = drills[rng.IntN(len(drills))]
		// Mostly in order, sometimes late (an interrupted record written
		// at recovery), within 40 days.
		r.Finished = start.Add(time.Duration(i)*40*24*time.Hour/time.Duration(n) - time.Duration(rng.IntN(3))*time.Duration(rng.IntN(48))*time.Hour)
		r.RestoreSeconds = float64(rng.IntN(100))
		r.Files, r.Bytes = int64(rng.IntN(50)), int64(rng.IntN(5000))
		if r.Drill == "sampled" || r.Drill == "forever" {
			r.Sample = &record.Sample{Seed: fmt.Sprint(rng.IntN(2)), Slices: 4, Slice: rng.IntN(4), TotalFiles: 100, TotalBytes: 10000}
			if rng.IntN(10) == 0 {
				r.Sample = nil // a full restore among the sampled ones
			}
		}
		if _, err := store.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	var all []*record.Record
	if err := store.Entries(func(e *evidence.Entry) error { all = append(all, e.Record); return nil }, false); err != nil {
		t.Fatal(err)
	}
	return store, all
}
