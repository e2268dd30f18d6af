package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// history --json prints each record as json.Marshal writes it escaped,
// whether the store hands it the record's JSON (a canonical record) or
// not (raw text from before escaping, '<' and '&', non-ASCII): the fast
// path changes no byte.
func TestHistoryJSONBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{StateDir: dir, LogOrigin: logtest.Origin}
	key, err := keys.LoadOrCreate(filepath.Join(dir, "keys"), logtest.Origin)
	must(t, err)
	s, err := evidence.Open(filepath.Join(dir, "drill.db"), evidence.Options{Origin: logtest.Origin, Key: key})
	must(t, err)
	edits := []func(r *record.Record){
		func(*record.Record) {},
		func(r *record.Record) { r.RestorePoint.Description = "plain" },
		func(r *record.Record) { r.Reasons = []string{"raw \x1b[2J\u202e text", "é"} },
		func(r *record.Record) { r.Reasons, r.Checks = nil, nil },
		func(r *record.Record) { r.Details = map[string]string{"k\n": "v\t"} },
	}
	for i := range 3 * len(edits) {
		r := logtest.Record(i, record.VerdictPass)
		r.RestorePoint.Description = "plain"
		edits[i%len(edits)](r)
		_, err := s.Append(r)
		must(t, err)
	}
	var want bytes.Buffer
	var recs []*record.Record
	must(t, s.Entries(func(e *evidence.Entry) error { recs = append(recs, e.Record); return nil }, true))
	must(t, s.Close())
	for _, r := range recs {
		writeJSON(&want, r.Escaped())
	}
	var got bytes.Buffer
	e := &env{stdout: &got}
	must(t, e.printHistory(context.Background(), &localHost{e: e, cfg: cfg}, agent.HistoryFilter{}, true))
	if got.String() != want.String() {
		t.Errorf("history --json:\n%s\nwant:\n%s", got.String(), want.String())
	}
	for _, l := range bytes.Split(bytes.TrimSpace(got.Bytes()), []byte("\n")) {
		var r record.Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Errorf("line %s: %v", l, err)
		}
	}
}
