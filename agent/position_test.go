package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// /v1/position answers the records a position needs, read through the
// store's index, and the position from them is the one from every record;
// a malformed query is refused. After a restart the agent knows each
// drill's newest record and newest pass from the index (drill list).
func TestPositionThroughTheAgent(t *testing.T) {
	h := newHarness(t, "", `
  good: {service: s, backend: fake, source: {name: g}}
  bad: {service: s2, backend: fake, source: {name: b}, checks: {min_files: 100}}
`)
	ctx := context.Background()
	for range 8 {
		for _, d := range []string{"good", "bad"} {
			if _, err := h.client().Run(ctx, d, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := h.loadConfig()
	q := drills.PositionQueryFor(cfg, h.clock.Now())
	recs, err := h.client().PositionRecords(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var all []*record.Record
	if err := h.a.store.Entries(func(e *evidence.Entry) error { all = append(all, e.Record); return nil }, false); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(drills.Position(cfg, recs, q.At))
	want, _ := json.Marshal(drills.Position(cfg, all, q.At))
	if string(got) != string(want) || len(recs) >= len(all) {
		t.Errorf("position from %d records through the agent:\n%s\nwant, from all %d:\n%s", len(recs), got, len(all), want)
	}
	for _, bad := range []url.Values{{}, {"at": {"2026-01-01T00:00:00Z"}, "drill": {"good"}}, {"at": {"x"}},
		{"at": {"2026-01-01T00:00:00Z"}, "drill": {"good"}, "review_every": {"-1"}}} {
		err := h.client().records(ctx, "/v1/position", bad, func(*record.Record, []byte) error { return nil })
		if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != http.StatusBadRequest {
			t.Errorf("/v1/position?%s: %v, want 400", bad.Encode(), err)
		}
	}
	// A restart: the newest record and pass of each drill come from the index.
	lastGood, lastBad := h.records("good"), h.records("bad")
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	rows, err := h.client().Drills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := map[string]*record.Record{"good": lastGood[len(lastGood)-1], "bad": lastBad[len(lastBad)-1]}[r.Name]
		if r.Last == nil || r.Last.LogIndex != want.LogIndex {
			t.Errorf("after a restart, drill %s's newest record is %+v, want record %d", r.Name, r.Last, want.LogIndex)
		}
	}
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	if p := h.a.lastPass["good"]; p == nil || p.LogIndex != lastGood[len(lastGood)-1].LogIndex {
		t.Errorf("after a restart, good's newest pass is %+v", p)
	}
	if p := h.a.lastPass["bad"]; p != nil {
		t.Errorf("after a restart, bad (never passed) has a pass: %+v", p)
	}
}

// A drill a reload adds that has records in the log (it was in an
// earlier config) starts with its newest record and newest pass, as it
// would after a restart: drill list and the position see them.
func TestReloadLoadsLast(t *testing.T) {
	drillLines := `
  good: {service: s, backend: fake, source: {name: g}}
  bad: {service: s2, backend: fake, source: {name: b}, checks: {min_files: 100}}
`
	h := newHarness(t, "", drillLines)
	ctx := context.Background()
	for range 3 {
		for _, d := range []string{"good", "bad"} {
			if _, err := h.client().Run(ctx, d, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	lastGood, lastBad := h.records("good"), h.records("bad")
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	h.writeConfig("", "  other: {service: s, backend: fake, source: {name: o}}\n")
	h.open()
	h.writeConfig("", drillLines)
	h.a.Reload()
	if err := h.health().ReloadError; err != "" {
		t.Fatalf("reload: %s", err)
	}
	rows, err := h.client().Drills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := map[string]*record.Record{"good": lastGood[len(lastGood)-1], "bad": lastBad[len(lastBad)-1]}[r.Name]
		if want != nil && (r.Last == nil || r.Last.LogIndex != want.LogIndex) {
			t.Errorf("after a reload adding it, drill %s's newest record is %+v, want record %d", r.Name, r.Last, want.LogIndex)
		}
	}
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	if p := h.a.lastPass["good"]; p == nil || p.LogIndex != lastGood[len(lastGood)-1].LogIndex {
		t.Errorf("after a reload adding it, good's newest pass is %+v", p)
	}
	if p := h.a.lastPass["bad"]; p != nil {
		t.Errorf("after a reload adding it, bad (never passed) has a pass: %+v", p)
	}
}
