package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

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
	for i, r := range logtest.Variety() {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		ok := checkCanonicalRecord(t, b)
		html := bytes.ContainsAny(b, "<>&") || bytes.Contains(b, []byte(`\u003`)) || bytes.Contains(b, []byte(`\u0026`))
		if want := logtest.PlainCanon(b) && !html; ok != want {
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

// FuzzDecodeCanonicalRecord: whenever the fast path takes its input,
// encoding/json gives the same record, and writes the input back.
func FuzzDecodeCanonicalRecord(f *testing.F) {
	for _, r := range logtest.Variety() {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkCanonicalRecord(t, b)
	})
}

// checkCanonicalStatement fails when DecodeCanonicalStatement takes b and
// gives another Statement than ParseStatement, or record bytes other than
// the record's encoding.
func checkCanonicalStatement(t *testing.T, b []byte) bool {
	t.Helper()
	st, js, marshaled, ok := DecodeCanonicalStatement(b)
	if !ok {
		return false
	}
	want, err := ParseStatement(b)
	if err != nil {
		t.Fatalf("DecodeCanonicalStatement took %s, which ParseStatement refuses: %v", b, err)
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("%s:\nDecodeCanonicalStatement %+v\nParseStatement %+v", b, st, want)
	}
	m, err := MarshalJSON(want.Predicate)
	if err != nil || !bytes.Equal(m, js) {
		t.Fatalf("DecodeCanonicalStatement's record bytes %s, MarshalJSON %s (%v)", js, m, err)
	}
	if jm, _ := json.Marshal(want.Predicate); marshaled != bytes.Equal(jm, js) {
		t.Fatalf("DecodeCanonicalStatement: marshaled = %v for %s", marshaled, js)
	}
	return true
}

// The payloads Sign is given are parsed by the canonical decoder when
// their strings are plain, to what encoding/json gives; anything else
// still parses as before.
func TestParsePayloadCanonical(t *testing.T) {
	for i, r := range logtest.Variety() {
		b, err := MarshalJSON(NewStatement(r))
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := MarshalJSON(r)
		if ok := checkCanonicalStatement(t, b); ok != logtest.PlainCanon(rec) {
			t.Errorf("record %d: DecodeCanonicalStatement ok = %v for %s", i, ok, b)
		}
		variants := [][]byte{b, append(bytes.Clone(b), ' '), bytes.Replace(b, []byte(`"digest":{`), []byte(`"digest":{"md5":"x",`), 1),
			bytes.Replace(b, []byte(`"_type"`), []byte(`"x":1,"_type"`), 1), bytes.Replace(b, []byte(`"subject":[{"name":"`), []byte(`"subject":[{"name":"","n":"`), 1),
			bytes.Replace(b, []byte(`,"predicate":{`), []byte(`,"predicate":{"extra":true,`), 1)}
		for j, v := range variants {
			got, kc, gerr := ParsePayload(v)
			want, werr := ParseStatement(v)
			if kc != nil || (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("record %d, variant %d: ParsePayload = %+v, %v; ParseStatement = %+v, %v", i, j, got, gerr, want, werr)
			}
		}
	}
}

// FuzzDecodeCanonicalStatement: whenever the fast path takes its input,
// ParseStatement gives the same Statement.
func FuzzDecodeCanonicalStatement(f *testing.F) {
	for _, r := range logtest.Variety() {
		b, _ := MarshalJSON(NewStatement(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkCanonicalStatement(t, b)
	})
}
