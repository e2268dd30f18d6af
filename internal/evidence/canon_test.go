package evidence

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// canonVariety is records with every optional field set or not, and
// strings and numbers the canonical decoders must refuse or pass on.
func canonVariety() []*record.Record {
	var out []*record.Record
	add := func(edit func(r *record.Record)) {
		r := testRecord(len(out), verdictFor(len(out)))
		r.RestorePoint.Description = "/backups/pg/billing nightly" // testRecord's has '<' and '&'
		edit(r)
		out = append(out, r)
	}
	add(func(*record.Record) {})
	add(func(r *record.Record) { r.Reasons, r.Checks = nil, nil })
	add(func(r *record.Record) { r.Reasons, r.Checks = []string{}, []record.Check{} })
	add(func(r *record.Record) {
		r.SourceSHA256, r.RestorePoint.Description = "abc", "snap of host"
		r.RPOSeconds, r.RTOSeconds = 86400, 0.5
		r.Tables = []record.Table{{Name: "t1", Rows: 3, Fingerprint: "f"}, {Name: "t2", Rows: 0}}
		r.Sample = &record.Sample{Percent: 10, Seed: "s", Slice: 2, Slices: 10, Depth: 2, TotalFiles: 5, TotalBytes: 9}
		r.Details = map[string]string{"b": "2", "a": "1", "c": ""}
	})
	add(func(r *record.Record) { r.Sample = &record.Sample{} })
	add(func(r *record.Record) { r.Reasons = []string{"a <b> & c"} })
	add(func(r *record.Record) { r.Reasons = []string{"tab\there"} })
	add(func(r *record.Record) { r.Reasons = []string{"é \u202e"} })
	add(func(r *record.Record) { r.Reasons = []string{`back\slash "quoted"`} })
	add(func(r *record.Record) { r.Drill = "bad\xff" })
	add(func(r *record.Record) { r.RestoreSeconds, r.BackupAgeSeconds = 1e-7, 1e21 })
	add(func(r *record.Record) { r.RestoreSeconds, r.BackupAgeSeconds = 123.456, math.Copysign(0, -1) })
	add(func(r *record.Record) { r.RPOSeconds = math.Copysign(0, -1) })
	add(func(r *record.Record) { r.Files, r.Bytes, r.LogIndex = -1, math.MaxInt64, 0 })
	add(func(r *record.Record) {
		r.Started = r.Started.In(time.FixedZone("x", 3600+1800))
		r.Finished = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		r.RestorePoint.Time = time.Time{}
	})
	add(func(r *record.Record) { r.Details = map[string]string{} })
	add(func(r *record.Record) { r.Tables = []record.Table{} })
	return out
}

// plainCanon reports whether r's JSON is what the canonical decoders
// must take: every string printable ASCII without '"', '\', '<', '>', '&'.
func plainCanon(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// checkCanonicalRecord fails when DecodeCanonicalRecord takes b and gives
// other than encoding/json, or b is not what json.Marshal writes for the
// record, escaped or not.
func checkCanonicalRecord(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := DecodeCanonicalRecord(b)
	if !ok {
		return false
	}
	var want record.Record
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("DecodeCanonicalRecord took %s, which encoding/json refuses: %v", b, err)
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("%s:\nDecodeCanonicalRecord %+v\nencoding/json %+v", b, got, &want)
	}
	for _, r := range []*record.Record{got, got.Escaped()} {
		if m, err := json.Marshal(r); err != nil || !bytes.Equal(m, b) {
			t.Fatalf("DecodeCanonicalRecord took %s, but json.Marshal writes %s (%v)", b, m, err)
		}
	}
	return true
}

func TestDecodeCanonicalRecord(t *testing.T) {
	for i, r := range canonVariety() {
		b, err := json.Marshal(r)
		must(t, err)
		ok := checkCanonicalRecord(t, b)
		html := bytes.ContainsAny(b, "<>&") || bytes.Contains(b, []byte(`\u003`)) || bytes.Contains(b, []byte(`\u0026`))
		if want := plainCanon(b) && !html; ok != want {
			t.Errorf("record %d: DecodeCanonicalRecord ok = %v, want %v: %s", i, ok, want, b)
		}
		// Anything else than the canonical form is refused.
		for _, v := range [][]byte{append([]byte(" "), b...), append(bytes.Clone(b), ' '), bytes.Replace(b, []byte(`":`), []byte(`": `), 1),
			bytes.Replace(b, []byte(`"drill"`), []byte(`"Drill"`), 1), bytes.Replace(b, []byte(`"host":"`), []byte(`"host":"x","host":"`), 1),
			b[:len(b)-1], bytes.Replace(b, []byte(`"files":`), []byte(`"files":0`), 1), bytes.Replace(b, []byte(`Z"`), []byte(`+00:00"`), 1)} {
			if _, ok := DecodeCanonicalRecord(v); ok {
				t.Errorf("record %d: DecodeCanonicalRecord took %s", i, v)
			}
		}
	}
}

// TestReadEntryCanonical: readEntry gives what parseEntry gives, for
// every kind of record, and its JSON, when it has it, is the record's.
func TestReadEntryCanonical(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: testKey(t, testOrigin)})
	must(t, err)
	defer s.Close()
	recs := canonVariety()
	for _, r := range recs {
		_, err := s.Append(r)
		must(t, err)
	}
	leaves, err := s.readLeaves(descending(int64(len(recs)), len(recs)))
	must(t, err)
	fast := 0
	for j, leaf := range leaves {
		i := int64(len(recs) - 1 - j)
		got, js, gerr := readEntry(i, leaf)
		want, werr := parseEntry(i, leaf)
		if gerr != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("leaf %d: readEntry = %+v, %v; parseEntry = %+v, %v", i, got, gerr, want, werr)
		}
		m, _ := json.Marshal(want.Record)
		unhtml := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(m))
		if (js != nil) != plainCanon([]byte(unhtml)) {
			t.Errorf("leaf %d: readEntry's JSON %s, for %s", i, js, m)
		}
		if js == nil {
			continue
		}
		fast++
		for _, r := range []*record.Record{want.Record, want.Record.Escaped()} {
			if m, _ := json.Marshal(r); !bytes.Equal(m, js) {
				t.Fatalf("leaf %d: readEntry's JSON %s, json.Marshal %s", i, js, m)
			}
		}
	}
	if fast < len(recs)/2 {
		t.Errorf("readEntry gave the JSON of %d records of %d", fast, len(recs))
	}
}

// FuzzDecodeCanonicalRecord: whenever the fast path takes its input,
// encoding/json gives the same record, and writes the input back.
func FuzzDecodeCanonicalRecord(f *testing.F) {
	for _, r := range canonVariety() {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkCanonicalRecord(t, b)
	})
}
