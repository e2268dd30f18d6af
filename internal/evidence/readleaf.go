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
// straight into a Statement. Anything else (a key change, another layout,
// anything parseEntry would refuse) goes through parseEntry. Nothing is
// verified: that is Verify's work.
func readEntry(i int64, leaf []byte) (*Entry, error) {
	rest, ok := bytes.CutPrefix(leaf, leafHead)
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 || !bytes.HasPrefix(rest[end:], []byte(`","signatures":[{`)) || !bytes.HasSuffix(leaf, []byte("}]}")) ||
		len(leaf) > envelope.MaxLeafSize || bytes.IndexByte(leaf, '\n') >= 0 {
		return parseEntry(i, leaf)
	}
	payload := make([]byte, base64.StdEncoding.DecodedLen(end))
	n, err := base64.StdEncoding.Decode(payload, rest[:end])
	if err != nil {
		return parseEntry(i, leaf)
	}
	var st envelope.Statement
	if json.Unmarshal(payload[:n], &st) != nil || st.Type != envelope.StatementType || st.PredicateType != envelope.PredicateType ||
		st.Predicate == nil || !subjectsNamed(st.Subject) {
		return parseEntry(i, leaf)
	}
	return &Entry{Index: i, Envelope: leaf, Record: st.Predicate}, nil
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
