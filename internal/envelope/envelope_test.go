package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/evlog/logtest"
	"github.com/drillhq/drill/internal/record"
)

const testOrigin = logtest.Origin

var (
	testKey    = logtest.Key
	testRecord = logtest.Record
)

func TestPAE(t *testing.T) {
	// The example of the DSSE protocol description.
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
	if got, want := string(PAE("", nil)), "DSSEv1 0  0 "; got != want {
		t.Errorf("PAE of empties = %q, want %q", got, want)
	}
}

func TestEnvelopeVerify(t *testing.T) {
	key := testKey(t, testOrigin)
	other := testKey(t, testOrigin)
	rec := testRecord(0, record.VerdictPass)
	leaf, err := SignStatement(NewStatement(rec), key)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Decode(leaf)
	if err != nil {
		t.Fatal(err)
	}
	st, err := good.Verify(key.Public)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Predicate, rec) {
		t.Errorf("predicate = %+v, want %+v", st.Predicate, rec)
	}

	payload, _ := good.PayloadBytes()
	resign := func(payloadType string, payload []byte) Envelope {
		sig := ed25519.Sign(key.Private, PAE(payloadType, payload))
		return Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload),
			Signatures: []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
	}

	for _, tc := range []struct {
		name string
		env  func() Envelope
		pub  ed25519.PublicKey
		want string // "" means Verify succeeds
	}{
		{"good", func() Envelope { return *good }, key.Public, ""},
		{"another key", func() Envelope { return *good }, other.Public, "payload does not match its signature"},
		{"short key", func() Envelope { return *good }, key.Public[:31], "verification key has 31 bytes"},
		{"URL-safe base64 accepted", func() Envelope {
			e := *good
			e.Payload = base64.RawURLEncoding.EncodeToString(payload)
			return e
		}, key.Public, ""},
		{"keyid is only a hint", func() Envelope {
			e := *good
			e.Signatures = []Signature{{KeyID: "bogus", Sig: good.Signatures[0].Sig}}
			return e
		}, key.Public, ""},
		{"one good signature among bad ones", func() Envelope {
			e := *good
			e.Signatures = []Signature{{Sig: "!!"}, {Sig: base64.StdEncoding.EncodeToString(make([]byte, 64))}, good.Signatures[0]}
			return e
		}, key.Public, ""},
		{"payload type changed", func() Envelope {
			e := *good
			e.PayloadType = "application/json"
			return e
		}, key.Public, `payload type is "application/json"`},
		{"signed with another payload type", func() Envelope {
			e := resign("application/json", payload)
			e.PayloadType = PayloadType
			return e
		}, key.Public, "payload does not match its signature"},
		{"signature truncated", func() Envelope {
			e := *good
			e.Signatures = []Signature{{Sig: good.Signatures[0].Sig[:20]}}
			return e
		}, key.Public, "payload does not match its signature"},
		{"signed, not a statement", func() Envelope { return resign(PayloadType, []byte(`[1,2]`)) }, key.Public, "payload is not an in-toto Statement"},
		{"signed, wrong predicate type", func() Envelope {
			return resign(PayloadType, bytes.Replace(payload, []byte(PredicateType), []byte("https://example.org/other/v1"), 1))
		}, key.Public, "predicateType is"},
		{"signed, wrong statement type", func() Envelope {
			return resign(PayloadType, bytes.Replace(payload, []byte(StatementType), []byte("https://in-toto.io/Statement/v0.1"), 1))
		}, key.Public, "_type is"},
		{"signed, no subject", func() Envelope {
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil {
				t.Fatal(err)
			}
			m["subject"] = []any{}
			b, _ := json.Marshal(m)
			return resign(PayloadType, b)
		}, key.Public, "statement has no subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env()
			_, err := env.Verify(tc.pub)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Verify: err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := (&Envelope{PayloadType: PayloadType, Payload: good.Payload, Signatures: []Signature{{Sig: good.Signatures[0].Sig}}}).Verify(other.Public); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with another key: err = %v, want ErrBadSignature", err)
	}
}

func TestDecodeEnvelopeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"newline", []byte("{\"payloadType\":\"x\",\n\"payload\":\"AA==\",\"signatures\":[{\"sig\":\"\"}]}"), "contains a newline"},
		{"too large", append(append([]byte(`{"payloadType":"x","payload":"`), bytes.Repeat([]byte("A"), MaxLeafSize)...), `"}`...), "more than the limit"},
		{"not JSON", []byte("DSSE"), "not valid JSON"},
		{"trailing data", []byte(`{"payloadType":"x","payload":"AA==","signatures":[{"sig":""}]} {}`), "not valid JSON"},
		{"no payload type", []byte(`{"payload":"AA==","signatures":[{"sig":""}]}`), "no payloadType"},
		{"no payload", []byte(`{"payloadType":"x","signatures":[{"sig":""}]}`), "no payload"},
		{"payload not base64", []byte(`{"payloadType":"x","payload":"*","signatures":[{"sig":""}]}`), "not base64"},
		{"no signatures", []byte(`{"payloadType":"x","payload":"AA=="}`), "no signatures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeEnvelope: err = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	key := testKey(f, testOrigin)
	leaf, err := SignStatement(NewStatement(testRecord(0, record.VerdictFail)), key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(leaf)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"","payload":"","signatures":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Decode(b)
		if err != nil {
			return
		}
		if len(b) > MaxLeafSize || bytes.IndexByte(b, '\n') >= 0 {
			t.Fatalf("accepted a leaf of %d bytes or with a newline", len(b))
		}
		if env.PayloadType == "" || len(env.Signatures) == 0 {
			t.Fatalf("accepted an envelope without payload type or signatures: %+v", env)
		}
		// Re-encoding gives an envelope that decodes to the same thing.
		again, err := MarshalJSON(env)
		if err != nil {
			t.Fatal(err)
		}
		env2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded envelope %s does not decode: %v", again, err)
		}
		if !reflect.DeepEqual(env, env2) {
			t.Fatalf("round trip changed the envelope: %+v != %+v", env, env2)
		}
		// Verify never panics; if it accepts, the payload is what the
		// key signed.
		if st, err := env.Verify(key.Public); err == nil {
			if st.Predicate == nil {
				t.Fatal("verified statement without predicate")
			}
			p, _ := env.PayloadBytes()
			if !bytes.Equal(p, mustPayload(t, leaf)) {
				t.Fatalf("verified a payload the key never signed: %q", p)
			}
		}
		_, _ = env.Statement()
	})
}

func mustPayload(t *testing.T, leaf []byte) []byte {
	env, err := Decode(leaf)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := env.PayloadBytes()
	return p
}
