package evidence

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

// TestReadEntryCanonical: readEntry gives what parseEntry gives, for
// every kind of record, and its JSON, when it has it, is the record's.
func TestReadEntryCanonical(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: testKey(t, testOrigin)})
	must(t, err)
	defer s.Close()
	recs := logtest.Variety()
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
		if (js != nil) != logtest.PlainCanon([]byte(unhtml)) {
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
