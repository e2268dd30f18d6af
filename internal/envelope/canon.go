package envelope

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// The canonical decoders: they parse a statement or a record only when it
// has exactly the form encoding/json writes for it (the fields in order,
// an omitempty field present only when not empty, map keys sorted,
// numbers and times as they are formatted, no space), with every string
// printable ASCII without '"' or '\'. For such input encoding/json gives
// the same values (no key can repeat or differ in case, no escape or
// invalid UTF-8 can be rewritten), at a fraction of the cost: the JSON
// decoding of the predicates was over half the CPU of a whole history.
// ok is false for anything else, which the callers then parse with
// encoding/json, as before.

// canonReader reads canonical JSON from b; any deviation clears ok.
type canonReader struct {
	b  []byte
	ok bool
	// html is set when a string holds '<', '>' or '&', which json.Marshal
	// escapes: the bytes are then not what json.Marshal writes.
	html bool
}

// lit consumes s.
func (c *canonReader) lit(s string) {
	if !c.ok || len(c.b) < len(s) || string(c.b[:len(s)]) != s {
		c.ok = false
		return
	}
	c.b = c.b[len(s):]
}

// has reports whether b goes on with s, and consumes it if so.
func (c *canonReader) has(s string) bool {
	if c.ok && len(c.b) >= len(s) && string(c.b[:len(s)]) == s {
		c.b = c.b[len(s):]
		return true
	}
	return false
}

// strBytes consumes a string and returns its content.
func (c *canonReader) strBytes() []byte {
	if !c.ok || len(c.b) == 0 || c.b[0] != '"' {
		c.ok = false
		return nil
	}
	for i := 1; i < len(c.b); i++ {
		switch ch := c.b[i]; {
		case ch == '"':
			s := c.b[1:i]
			c.b = c.b[i+1:]
			return s
		case ch < 0x20 || ch > 0x7e || ch == '\\':
			c.ok = false
			return nil
		case ch == '<' || ch == '>' || ch == '&':
			c.html = true
		}
	}
	c.ok = false
	return nil
}

func (c *canonReader) str() string { return string(c.strBytes()) }

// number consumes a number's bytes.
func (c *canonReader) number() []byte {
	i := 0
	for i < len(c.b) && (c.b[i] >= '0' && c.b[i] <= '9' || bytes.IndexByte([]byte("-+.eE"), c.b[i]) >= 0) {
		i++
	}
	n := c.b[:i]
	c.b = c.b[i:]
	if i == 0 {
		c.ok = false
	}
	return n
}

func (c *canonReader) int64() int64 {
	n := c.number()
	if !c.ok {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	var buf [24]byte
	if err != nil || !bytes.Equal(strconv.AppendInt(buf[:0], v, 10), n) {
		c.ok = false
	}
	return v
}

func (c *canonReader) int() int { return int(c.int64()) }

// float64 consumes a number as encoding/json formats a float64.
func (c *canonReader) float64() float64 {
	n := c.number()
	if !c.ok {
		return 0
	}
	v, err := strconv.ParseFloat(string(n), 64)
	var buf [32]byte
	if err != nil || !bytes.Equal(appendJSONFloat(buf[:0], v), n) {
		c.ok = false
	}
	return v
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '!') // never equal to a number
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func (c *canonReader) bool() bool {
	if c.has("true") {
		return true
	}
	c.lit("false")
	return false
}

// time consumes a time as time.Time marshals it, decoded as it unmarshals it.
func (c *canonReader) time() time.Time {
	start := c.b
	s := c.strBytes()
	if !c.ok {
		return time.Time{}
	}
	var t time.Time
	q := start[:len(s)+2]
	var buf [48]byte
	if t.UnmarshalJSON(q) != nil || !bytes.Equal(t.AppendFormat(append(buf[:0], '"'), time.RFC3339Nano), q[:len(q)-1]) {
		c.ok = false
	}
	return t
}

// strings consumes null or an array of strings.
func (c *canonReader) strings() []string {
	if c.has("null") {
		return nil
	}
	c.lit("[")
	out := []string{}
	for c.ok && !c.has("]") {
		if len(out) > 0 {
			c.lit(",")
		}
		out = append(out, c.str())
	}
	return out
}

// stringMap consumes a non-empty object of strings, keys sorted.
func (c *canonReader) stringMap() map[string]string {
	c.lit("{")
	out := map[string]string{}
	var last []byte
	for c.ok && !c.has("}") {
		if len(out) > 0 {
			c.lit(",")
		}
		k := c.strBytes()
		if len(out) > 0 && bytes.Compare(last, k) >= 0 {
			c.ok = false
		}
		c.lit(":")
		out[string(k)], last = c.str(), k
	}
	if len(out) == 0 {
		c.ok = false
	}
	return out
}

// DecodeCanonicalStatement parses payload, a Statement, when it is
// canonical (see above) with a record predicate and named subjects (what
// checkStatement requires), and returns it and its record's bytes;
// marshaled is set when they are what json.Marshal writes for the record
// (else they hold '<', '>' or '&', which json.Marshal escapes).
func DecodeCanonicalStatement(payload []byte) (st *Statement, js []byte, marshaled, ok bool) {
	c := &canonReader{b: payload, ok: true}
	c.lit(`{"_type":"` + StatementType + `","subject":[`)
	st = &Statement{Type: StatementType, PredicateType: PredicateType}
	for c.ok && !c.has("]") {
		if len(st.Subject) > 0 {
			c.lit(",")
		}
		c.lit(`{"name":`)
		s := Subject{Name: c.str()}
		if s.Name == "" {
			c.ok = false
		}
		c.lit(`,"digest":`)
		s.Digest = c.stringMap()
		c.lit("}")
		st.Subject = append(st.Subject, s)
	}
	if len(st.Subject) == 0 {
		c.ok = false
	}
	c.lit(`,"predicateType":"` + PredicateType + `","predicate":`)
	c.html = false
	start := c.b
	st.Predicate = c.record()
	c.lit("}")
	if !c.ok || len(c.b) != 0 {
		return nil, nil, false, false
	}
	return st, start[:len(start)-1], !c.html, true
}

// DecodeCanonicalRecord parses b, a record, when it is exactly what
// json.Marshal writes for it with every string printable ASCII without
// '"', '\', '<', '>' or '&' (so that textsafe.Escape changes none of
// them): the record is then the one json.Unmarshal gives, and b is also
// what json.Marshal writes for it escaped. ok is false otherwise.
func DecodeCanonicalRecord(b []byte) (rec *record.Record, ok bool) {
	c := &canonReader{b: b, ok: true}
	rec = c.record()
	if !c.ok || c.html || len(c.b) != 0 {
		return nil, false
	}
	return rec, true
}

// record consumes a record.
func (c *canonReader) record() *record.Record {
	r := &record.Record{}
	c.lit(`{"log_origin":`)
	r.LogOrigin = c.str()
	c.lit(`,"log_index":`)
	r.LogIndex = c.int64()
	c.lit(`,"drill":`)
	r.Drill = c.str()
	c.lit(`,"service":`)
	r.Service = c.str()
	c.lit(`,"backend":`)
	r.Backend = c.str()
	if c.has(`,"source_sha256":`) {
		if r.SourceSHA256 = c.str(); r.SourceSHA256 == "" {
			c.ok = false
		}
	}
	c.lit(`,"host":`)
	r.Host = c.str()
	c.lit(`,"verdict":`)
	r.Verdict = record.Verdict(c.str())
	c.lit(`,"reasons":`)
	r.Reasons = c.strings()
	c.lit(`,"restore_point":{"id":`)
	r.RestorePoint.ID = c.str()
	c.lit(`,"time":`)
	r.RestorePoint.Time = c.time()
	if c.has(`,"description":`) {
		if r.RestorePoint.Description = c.str(); r.RestorePoint.Description == "" {
			c.ok = false
		}
	}
	c.lit(`},"started":`)
	r.Started = c.time()
	c.lit(`,"finished":`)
	r.Finished = c.time()
	c.lit(`,"restore_seconds":`)
	r.RestoreSeconds = c.float64()
	c.lit(`,"backup_age_seconds":`)
	r.BackupAgeSeconds = c.float64()
	if c.has(`,"rpo_seconds":`) {
		if r.RPOSeconds = c.float64(); r.RPOSeconds == 0 {
			c.ok = false
		}
	}
	if c.has(`,"rto_seconds":`) {
		if r.RTOSeconds = c.float64(); r.RTOSeconds == 0 {
			c.ok = false
		}
	}
	c.lit(`,"files":`)
	r.Files = c.int64()
	c.lit(`,"bytes":`)
	r.Bytes = c.int64()
	c.lit(`,"manifest_sha256":`)
	r.ManifestSHA256 = c.str()
	c.lit(`,"checks":`)
	r.Checks = c.checks()
	c.tail(r)
	return r
}

// checks consumes null or an array of checks.
func (c *canonReader) checks() []record.Check {
	if c.has("null") {
		return nil
	}
	c.lit("[")
	out := []record.Check{}
	for c.ok && !c.has("]") {
		if len(out) > 0 {
			c.lit(",")
		}
		var ch record.Check
		c.lit(`{"name":`)
		ch.Name = c.str()
		c.lit(`,"ok":`)
		ch.OK = c.bool()
		c.lit(`,"detail":`)
		ch.Detail = c.str()
		c.lit("}")
		out = append(out, ch)
	}
	return out
}

// tail consumes a record's fields after its checks, and its end.
func (c *canonReader) tail(r *record.Record) {
	if c.has(`,"tables":[`) {
		for c.ok && !c.has("]") {
			if len(r.Tables) > 0 {
				c.lit(",")
			}
			var t record.Table
			c.lit(`{"name":`)
			t.Name = c.str()
			c.lit(`,"rows":`)
			t.Rows = c.int64()
			if c.has(`,"fingerprint":`) {
				if t.Fingerprint = c.str(); t.Fingerprint == "" {
					c.ok = false
				}
			}
			c.lit("}")
			r.Tables = append(r.Tables, t)
		}
		if len(r.Tables) == 0 {
			c.ok = false
		}
	}
	if c.has(`,"sample":{"percent":`) {
		s := &record.Sample{}
		s.Percent = c.int()
		c.lit(`,"seed":`)
		s.Seed = c.str()
		c.lit(`,"slice":`)
		s.Slice = c.int()
		c.lit(`,"slices":`)
		s.Slices = c.int()
		if c.has(`,"depth":`) {
			if s.Depth = c.int(); s.Depth == 0 {
				c.ok = false
			}
		}
		c.lit(`,"total_files":`)
		s.TotalFiles = c.int64()
		c.lit(`,"total_bytes":`)
		s.TotalBytes = c.int64()
		c.lit("}")
		r.Sample = s
	}
	if c.has(`,"details":`) {
		r.Details = c.stringMap()
	}
	c.lit(`,"drill_version":`)
	r.DrillVersion = c.str()
	c.lit("}")
}
