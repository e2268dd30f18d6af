package record

import (
	"reflect"
	"testing"
)

func TestRecordEscape(t *testing.T) {
	raw := func() *Record {
		return &Record{
			Drill: "db", Verdict: VerdictFail,
			Reasons:      []string{"table \"t\x1b[2J\" is empty"},
			RestorePoint: RestorePoint{ID: "dump-\r.sql", Description: "\u202eevil"},
			Checks:       []Check{{Name: "sql \u009b", OK: false, Detail: "got \x07"}},
			Tables:       []Table{{Name: "public.\x1b]0;title\x07users", Rows: 3, Fingerprint: "ab"}},
			Sample:       &Sample{Seed: "s\n"},
			Details:      map[string]string{"k\x1b": "v\x7f", "server": "PostgreSQL 17"},
		}
	}
	rec := raw()
	got := rec.Escaped()
	want := &Record{
		Drill: "db", Verdict: VerdictFail,
		Reasons:      []string{`table "t\x1b[2J" is empty`},
		RestorePoint: RestorePoint{ID: `dump-\r.sql`, Description: `\u202eevil`},
		Checks:       []Check{{Name: `sql \u009b`, OK: false, Detail: `got \x07`}},
		Tables:       []Table{{Name: `public.\x1b]0;title\x07users`, Rows: 3, Fingerprint: "ab"}},
		Sample:       &Sample{Seed: `s\n`},
		Details:      map[string]string{`k\x1b`: `v\x7f`, "server": "PostgreSQL 17"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Escaped:\ngot  %+v\nwant %+v", got, want)
	}
	// The original is left as it was: Escaped replaces, never writes through.
	if !reflect.DeepEqual(rec, raw()) {
		t.Errorf("Escaped changed the original: %+v", rec)
	}
	// Escaping is stable.
	again := got.Escaped()
	if !reflect.DeepEqual(again, got) {
		t.Errorf("escaping twice changed the record:\ngot  %+v\nwant %+v", again, got)
	}
	// In place.
	rec.Escape()
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("Escape:\ngot  %+v\nwant %+v", rec, want)
	}
}
