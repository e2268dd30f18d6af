package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	"github.com/drillhq/drill/internal/envelope"
)

// leafHead is how every envelope Append writes begins, up to its payload.
var leafHead = []byte(`{"payloadType":"` + envelope.PayloadType + `","payload":"`)

// readEntry parses leaf i for reading, as parseEntry does, in one JSON
// pass instead of four: an envelope as Append writes it has its payload
// cut out of the leaf (base64 has no quote), and the payload is decoded
// straight into a Statement, without encoding/json when it is canonical
// (envelope.DecodeCanonicalStatement). Anything else (a key change, another
// layout, anything parseEntry would refuse) goes through parseEntry.
// Nothing is verified: that is Verify's work. js, when not nil, is what
// json.Marshal writes for the record, escaped or not (see
// envelope.DecodeCanonicalRecord).
func readEntry(i int64, leaf []byte) (e *Entry, js []byte, err error) {
	rest, ok := bytes.CutPrefix(leaf, leafHead)
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 || !bytes.HasPrefix(rest[end:], []byte(`","signatures":[{`)) || !bytes.HasSuffix(leaf, []byte("}]}")) ||
		len(leaf) > envelope.MaxLeafSize || bytes.IndexByte(leaf, '\n') >= 0 {
		e, err = parseEntry(i, leaf)
		return e, nil, err
	}
	payload := make([]byte, base64.StdEncoding.DecodedLen(end))
	n, err := base64.StdEncoding.Decode(payload, rest[:end])
	if err != nil {
		e, err = parseEntry(i, leaf)
		return e, nil, err
	}
	if st, js, marshaled, ok := envelope.DecodeCanonicalStatement(payload[:n]); ok {
		if !marshaled {
			// '<', '>' and '&' can only be in its strings.
			var b bytes.Buffer
			json.HTMLEscape(&b, js)
			js = b.Bytes()
		}
		return &Entry{Index: i, Envelope: leaf, Record: st.Predicate}, js, nil
	}
	var st envelope.Statement
	if json.Unmarshal(payload[:n], &st) != nil || st.Type != envelope.StatementType || st.PredicateType != envelope.PredicateType ||
		st.Predicate == nil || !subjectsNamed(st.Subject) {
		e, err = parseEntry(i, leaf)
		return e, nil, err
	}
	return &Entry{Index: i, Envelope: leaf, Record: st.Predicate}, nil, nil
}

// subjectsNamed reports whether there are subjects, each with a name and
// a digest, as envelope.ParseStatement requires.
func subjectsNamed(subjects []envelope.Subject) bool {
	for _, s := range subjects {
		if s.Name == "" || len(s.Digest) == 0 {
			return false
		}
	}
	return len(subjects) > 0
}
