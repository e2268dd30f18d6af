package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/drillhq/drill/internal/record"
)

// canonicalSeeds are envelopes in and just out of the form decodeCanonical
// takes.
var canonicalSeeds = []string{
	`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`,
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]}`,
	// Escapes, other key cases, repeated keys, two signatures, spaces,
	// non-ASCII, trailing bytes: all left to encoding/json.
	`{"payloadType":"T\u0041","payload":"P","signatures":[{"keyid":"K","sig":"S"}]}`,
	`{"payloadType":"T","payload":"P\/","signatures":[{"keyid":"K","sig":"S"}]}`,
	`{"PayloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]}`,
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"},{"keyid":"K","sig":"S"}]}`,
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}],"payload":"Q"}`,
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]} `,
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]}}`,
	"{\"payloadType\":\"T\xff\",\"payload\":\"P\",\"signatures\":[{\"keyid\":\"K\",\"sig\":\"S\"}]}",
	"{\"payloadType\":\"T\t\",\"payload\":\"P\",\"signatures\":[{\"keyid\":\"K\",\"sig\":\"S\"}]}",
	`{"payloadType":"T","payload":"P","signatures":[{"keyid":"K","sig":"S"}]`,
}

// TestDecodeCanonical: what Sign writes takes the fast path, and gives
// what encoding/json gives.
func TestDecodeCanonical(t *testing.T) {
	key := testKey(t, testOrigin)
	leaf, err := SignStatement(NewStatement(testRecord(0, record.VerdictPass)), key)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeCanonical(leaf)
	if !ok {
		t.Fatalf("an envelope Sign wrote does not take the fast path: %s", leaf)
	}
	var want Envelope
	if err := json.Unmarshal(leaf, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path gave %+v, encoding/json %+v", got, want)
	}
	for i, s := range canonicalSeeds[2:] {
		if _, ok := decodeCanonical([]byte(s)); ok {
			t.Errorf("seed %d %q took the fast path; it must go to encoding/json", i+2, s)
		}
	}
}

// FuzzDecodeCanonical: whenever the fast path accepts, encoding/json
// accepts the same bytes and gives the same envelope.
func FuzzDecodeCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeCanonical(b)
		if !ok {
			return
		}
		var want Envelope
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path accepted %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path gave %+v, encoding/json %+v", b, got, want)
		}
	})
}

// TestSignedBytes checks that SignedBytes gives what Sign signed: PAE of
// the payload type and the payload, which is its tail.
func TestSignedBytes(t *testing.T) {
	key := testKey(t, testOrigin)
	payload := []byte(`{"_type":"x"}`)
	leaf, err := Sign(payload, key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(leaf)
	if err != nil {
		t.Fatal(err)
	}
	msg, got, err := env.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) || !bytes.Equal(msg, PAE(PayloadType, payload)) {
		t.Errorf("SignedBytes = %q, %q; want %q, %q", msg, got, PAE(PayloadType, payload), payload)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil || !ed25519.Verify(key.Public, msg, sig) {
		t.Errorf("the signature does not verify over SignedBytes' message: %v", err)
	}
}
