// Package envelope is what one signed entry of drill's evidence log is: a
// DSSE envelope (Ed25519 over the DSSE pre-authentication encoding) whose
// payload is an in-toto Statement v1, with a drill Record (PredicateType)
// or a key change (KeyChangeType) as predicate. It signs, decodes and
// verifies entries, byte for byte; it knows nothing of trees, checkpoints
// or storage (see internal/evlog, internal/bundle, internal/evidence).
package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Media and type URIs of a log entry.
const (
	// PayloadType is the DSSE payload type of every entry: an in-toto
	// Statement in JSON.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement version entries use.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType identifies a drill Record as the Statement's predicate.
	// The major version is part of the URI: a change that old readers would
	// misread needs a new URI.
	PredicateType = "https://drill.dev/restore-drill/v1"
)

// MaxLeafSize is the largest log entry (envelope) in bytes.
const MaxLeafSize = 1 << 20

// ErrBadSignature is returned by Envelope.Verify when no signature of the
// envelope verifies with the given key.
var ErrBadSignature = errors.New("payload does not match its signature")

// StatementOf is an in-toto Statement v1 whose predicate is a P. Field
// order is the order of the JSON encoding.
type StatementOf[P any] struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     P         `json:"predicate"`
}

// Statement is an in-toto Statement v1 whose predicate is a drill Record.
type Statement = StatementOf[*record.Record]

// Subject is what a Statement is about, identified by name and digests
// (algorithm to lower-case hex).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Envelope is a DSSE envelope. Payload and Sig hold base64 text exactly as
// in the JSON, so that an envelope that was decoded can be checked against
// the bytes that were signed.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`

	// decoded caches the decoded Payload; decodedFrom is the Payload it
	// was decoded from, so a changed Payload is decoded again.
	decoded     []byte
	decodedFrom string
}

// Signature is one DSSE signature. KeyID is only a hint (hex SHA-256 of
// the Ed25519 public key for drill's own signatures); it is never trusted.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// PAE is the DSSE v1 pre-authentication encoding of a payload, the bytes
// that are signed:
//
//	"DSSEv1" SP len(type) SP type SP len(payload) SP payload
//
// with lengths in ASCII decimal.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, len("DSSEv1")+len(payloadType)+len(payload)+24)
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Decode parses a log entry as a DSSE envelope. It checks the
// shape only (size, one line, JSON, base64 payload, at least one
// signature); Verify checks the signature.
func Decode(b []byte) (*Envelope, error) {
	if err := CheckLeaf(b); err != nil {
		return nil, err
	}
	e, ok := decodeCanonical(b)
	if !ok {
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("envelope is not valid JSON: %w", err)
		}
	}
	if e.PayloadType == "" {
		return nil, errors.New("envelope has no payloadType")
	}
	if e.Payload == "" {
		return nil, errors.New("envelope has no payload")
	}
	payload, err := decodeBase64(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("envelope payload is not base64: %w", err)
	}
	e.decoded, e.decodedFrom = payload, e.Payload
	if len(e.Signatures) == 0 {
		return nil, errors.New("envelope has no signatures")
	}
	return &e, nil
}

// PayloadBytes returns the decoded payload. Standard and URL-safe base64,
// with or without padding, are accepted, as DSSE requires.
func (e *Envelope) PayloadBytes() ([]byte, error) {
	if e.decoded != nil && e.decodedFrom == e.Payload {
		return bytes.Clone(e.decoded), nil
	}
	return decodeBase64(e.Payload)
}

// SignedBytes returns the bytes a signature of e covers, PAE of its
// payload type and decoded payload, and the payload, which is their tail
// (no copy of its own: a caller that changes one changes the other).
func (e *Envelope) SignedBytes() (msg, payload []byte, err error) {
	p, err := e.payloadBytes()
	if err != nil {
		return nil, nil, err
	}
	msg = PAE(e.PayloadType, p)
	return msg, msg[len(msg)-len(p):], nil
}

// payloadBytes is PayloadBytes without the defensive copy.
func (e *Envelope) payloadBytes() ([]byte, error) {
	if e.decoded != nil && e.decodedFrom == e.Payload {
		return e.decoded, nil
	}
	return decodeBase64(e.Payload)
}

// Verify checks that a signature of e by pub covers the payload and that the
// payload is a drill Statement, and returns that Statement. The key IDs of
// the signatures are ignored; one signature that verifies is enough.
func (e *Envelope) Verify(pub ed25519.PublicKey) (*Statement, error) {
	st, kc, err := e.VerifyAny(pub)
	if err != nil {
		return nil, err
	}
	if kc != nil {
		return nil, fmt.Errorf("statement predicateType is %q, want %q", KeyChangeType, PredicateType)
	}
	return st, nil
}

// Statement parses the payload without checking any signature.
func (e *Envelope) Statement() (*Statement, error) {
	payload, err := e.payloadBytes()
	if err != nil {
		return nil, fmt.Errorf("payload is not base64: %w", err)
	}
	return ParseStatement(payload)
}

// ParseStatement parses a DSSE payload as an in-toto Statement v1 with a
// drill Record as predicate. Unknown fields are ignored, as in-toto asks of
// consumers.
func ParseStatement(payload []byte) (*Statement, error) {
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not an in-toto Statement: %w", err)
	}
	return checkStatement(&st)
}

// checkStatement checks a decoded Statement as ParseStatement does.
func checkStatement(st *Statement) (*Statement, error) {
	if err := CheckStatementType(st.Type, st.PredicateType, PredicateType); err != nil {
		return nil, err
	}
	switch {
	case st.Predicate == nil:
		return nil, errors.New("statement has no predicate")
	case len(st.Subject) == 0:
		return nil, errors.New("statement has no subject")
	}
	for i, s := range st.Subject {
		if s.Name == "" || len(s.Digest) == 0 {
			return nil, fmt.Errorf("statement subject %d has no name or no digest", i)
		}
	}
	return st, nil
}

// CheckStatementType checks that a Statement is an in-toto Statement v1
// of predicate type want.
func CheckStatementType(typ, predicateType, want string) error {
	switch {
	case typ != StatementType:
		return fmt.Errorf("statement _type is %q, want %q", typ, StatementType)
	case predicateType != want:
		return fmt.Errorf("statement predicateType is %q, want %q", predicateType, want)
	}
	return nil
}

// NewStatement wraps rec in a Statement. The subject is the restore point
// ("restore-point:<id>"), or the drill ("drill:<name>") when the drill found
// no restore point. Its sha256 digest is the record's manifest digest.
func NewStatement(rec *record.Record) *Statement {
	name := "restore-point:" + rec.RestorePoint.ID
	if rec.RestorePoint.ID == "" {
		name = "drill:" + rec.Drill
	}
	digest := rec.ManifestSHA256
	if digest == "" {
		// in-toto requires a digest on every subject. Without a manifest
		// (the drill failed before hashing, or the backend has none) the
		// SHA-256 of the restore point ID (of the subject name when there
		// is no restore point) stands in: it names the subject but proves
		// nothing about its content.
		id := rec.RestorePoint.ID
		if id == "" {
			id = name
		}
		sum := sha256.Sum256([]byte(id))
		digest = hex.EncodeToString(sum[:])
	}
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{"sha256": digest}}},
		PredicateType: PredicateType,
		Predicate:     rec,
	}
}

// SignStatement encodes st and signs it into a DSSE envelope, returning the
// envelope's bytes: the log leaf.
func SignStatement(st *Statement, key *keys.Key) ([]byte, error) {
	payload, err := MarshalJSON(st)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	leaf, err := Sign(payload, key)
	if err != nil {
		return nil, err
	}
	if err := CheckLeaf(leaf); err != nil {
		return nil, err
	}
	return leaf, nil
}

// Sign signs an in-toto Statement's encoding into a DSSE envelope
// with key and returns the envelope's JSON, one line.
func Sign(payload []byte, key *keys.Key) ([]byte, error) {
	sig := ed25519.Sign(key.Private, PAE(PayloadType, payload))
	env, err := MarshalJSON(&Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{KeyID: key.KeyID(), Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return env, nil
}

// VerifiedPayload checks that a signature of e by pub covers its payload
// (payload type PayloadType) and returns the payload. The key IDs of the
// signatures are ignored; one signature that verifies is enough.
func (e *Envelope) VerifiedPayload(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("verification key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if e.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type is %q, want %q", e.PayloadType, PayloadType)
	}
	payload, err := e.payloadBytes()
	if err != nil {
		return nil, fmt.Errorf("payload is not base64: %w", err)
	}
	msg := PAE(e.PayloadType, payload)
	for _, s := range e.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err == nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig) {
			return payload, nil
		}
	}
	return nil, ErrBadSignature
}

// MarshalJSON is the one JSON encoding of everything drill signs:
// encoding/json without HTML escaping, without the trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// CheckLeaf enforces the rules on raw leaves: at most MaxLeafSize
// bytes and no newline, so that leaves can be exported one per line.
func CheckLeaf(b []byte) error {
	if len(b) > MaxLeafSize {
		return fmt.Errorf("entry has %d bytes, more than the limit of %d", len(b), MaxLeafSize)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		return errors.New("entry contains a newline")
	}
	return nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// KeyChangeType identifies a key change as a Statement's predicate: the
// log entry that hands the log from one signing key to the next.
const KeyChangeType = "https://drill.dev/key-change/v1"

// KeyChange is the predicate of a key-change entry. The entry is signed
// by OldKey; every later entry, and every checkpoint from the one that
// covers this entry on, is signed by NewKey, and that first checkpoint by
// OldKey as well. Field order is the canonical JSON order.
type KeyChange struct {
	LogOrigin string    `json:"log_origin"`
	LogIndex  int64     `json:"log_index"`
	Time      time.Time `json:"time"`
	// OldKey and NewKey are note verifier keys.
	OldKey string `json:"old_key"`
	NewKey string `json:"new_key"`
}

// SignKeyChange signs the key-change entry kc, handing the log to next,
// with the current key: an in-toto Statement whose subject is the new key.
// It returns the entry's bytes, the log leaf.
func SignKeyChange(kc *KeyChange, next, current *keys.Key) ([]byte, error) {
	sum := sha256.Sum256(next.Public)
	st := &StatementOf[*KeyChange]{Type: StatementType, PredicateType: KeyChangeType, Predicate: kc,
		Subject: []Subject{{Name: "key:" + next.VerifierKey, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}}}
	payload, err := MarshalJSON(st)
	if err != nil {
		return nil, err
	}
	return Sign(payload, current)
}

// payloadHeader is what tells the two kinds of Statement apart.
type payloadHeader struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
}

// parseKeyChange parses a payload that is a key-change Statement; it
// returns nil, nil for any other predicate type.
func parseKeyChange(payload []byte) (*KeyChange, error) {
	var h payloadHeader
	if err := json.Unmarshal(payload, &h); err != nil {
		return nil, fmt.Errorf("payload is not an in-toto Statement: %w", err)
	}
	if h.PredicateType != KeyChangeType {
		return nil, nil
	}
	var st StatementOf[*KeyChange]
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not a key-change Statement: %w", err)
	}
	switch {
	case st.Type != StatementType:
		return nil, fmt.Errorf("statement _type is %q, want %q", st.Type, StatementType)
	case st.Predicate == nil, st.Predicate.OldKey == "", st.Predicate.NewKey == "":
		return nil, errors.New("key-change statement without its keys")
	}
	return st.Predicate, nil
}

// VerifyAny checks e's signature by pub and returns its Statement: a
// drill record (rec) or a key change (kc).
func (e *Envelope) VerifyAny(pub ed25519.PublicKey) (rec *Statement, kc *KeyChange, err error) {
	payload, err := e.VerifiedPayload(pub)
	if err != nil {
		return nil, nil, err
	}
	return ParsePayload(payload)
}

// ParsePayload parses a payload whose signature was checked (or is
// checked apart, in a batch): a drill record (rec) or a key change (kc).
func ParsePayload(payload []byte) (rec *Statement, kc *KeyChange, err error) {
	// Nearly every payload is a record as Sign wrote it: parsed without
	// encoding/json (DecodeCanonicalStatement), to the same Statement.
	if st, _, _, ok := DecodeCanonicalStatement(payload); ok {
		rec, err := checkStatement(st)
		return rec, nil, err
	}
	// A drill record, nearly every entry, in one decoding: when the
	// payload decodes as a Statement, its predicateType is the one
	// parseKeyChange would read, so this is what the two steps below
	// give, without decoding it twice.
	var one Statement
	if json.Unmarshal(payload, &one) == nil && one.PredicateType != KeyChangeType {
		rec, err := checkStatement(&one)
		return rec, nil, err
	}
	if kc, err := parseKeyChange(payload); err != nil || kc != nil {
		return nil, kc, err
	}
	rec, err = ParseStatement(payload)
	return rec, nil, err
}

// Parse decodes a log entry without verifying any signature: a drill
// record (rec) or a key change (kc).
func Parse(leaf []byte) (rec *record.Record, kc *KeyChange, err error) {
	env, err := Decode(leaf)
	if err != nil {
		return nil, nil, err
	}
	payload, err := env.payloadBytes()
	if err != nil {
		return nil, nil, err
	}
	if kc, err := parseKeyChange(payload); err != nil || kc != nil {
		return nil, kc, err
	}
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, nil, err
	}
	return st.Predicate, nil, nil
}
