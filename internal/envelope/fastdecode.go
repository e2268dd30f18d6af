package envelope

import "bytes"

// decodeCanonical parses b when it has exactly the form Sign writes, one
// signature and no escapes:
//
//	{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]}
//
// with T, P, K and S printable ASCII without '"' or '\'. For such input
// encoding/json would give the same four strings (no key can repeat or
// differ in case, no escape or invalid UTF-8 can be rewritten), so the
// result is the same, at a fraction of the cost: verifying 100,000
// entries spent a sixth of its time in json.Unmarshal of envelopes. ok is
// false for anything else, which Decode then parses with encoding/json.
func decodeCanonical(b []byte) (e Envelope, ok bool) {
	fields := [...]struct {
		before string
		dst    *string
	}{
		{`{"payloadType":"`, &e.PayloadType},
		{`","payload":"`, &e.Payload},
		{`","signatures":[{"keyid":"`, nil},
		{`","sig":"`, nil},
	}
	var sig Signature
	fields[2].dst, fields[3].dst = &sig.KeyID, &sig.Sig
	rest := b
	for _, f := range fields {
		var found bool
		if rest, found = bytes.CutPrefix(rest, []byte(f.before)); !found {
			return Envelope{}, false
		}
		end := bytes.IndexByte(rest, '"')
		if end < 0 || !plainASCII(rest[:end]) {
			return Envelope{}, false
		}
		*f.dst, rest = string(rest[:end]), rest[end:]
	}
	if string(rest) != `"}]}` {
		return Envelope{}, false
	}
	e.Signatures = []Signature{sig}
	return e, true
}

// plainASCII reports whether s is printable ASCII without a backslash
// (and, as its caller cut it at the first '"', without a quote).
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
