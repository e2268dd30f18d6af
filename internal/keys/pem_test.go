package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestPublicPEMRoundTrip(t *testing.T) {
	k, err := LoadOrCreate(filepath.Join(t.TempDir(), "keys"), "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	text := k.PublicPEM()

	block, rest := pem.Decode(text)
	if block == nil {
		t.Fatalf("PublicPEM() = %q, not a PEM block", text)
	}
	if got, want := block.Type, "PUBLIC KEY"; got != want {
		t.Errorf("PEM block type = %q, want %q", got, want)
	}
	if len(rest) != 0 {
		t.Errorf("PublicPEM() has %q after the block", rest)
	}
	if bytes.Contains(text, k.Private.Seed()) || bytes.Contains(block.Bytes, k.Private.Seed()) {
		t.Error("PublicPEM() holds the private key")
	}

	pub, vkey, err := ParsePublicKey(text)
	if err != nil {
		t.Fatalf("ParsePublicKey(PublicPEM()): %v", err)
	}
	if !pub.Equal(k.Public) {
		t.Errorf("ParsePublicKey(PublicPEM()) = %x, want %x", pub, k.Public)
	}
	if vkey != "" {
		t.Errorf("ParsePublicKey(PEM) verifier key = %q, want \"\"", vkey)
	}
}

// TestParsePublicKeyRFC8410 checks the PEM form against the example public
// key of RFC 8410, section 10.1, so that keys read by openssl read here too.
func TestParsePublicKeyRFC8410(t *testing.T) {
	const rfc = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	want, _ := hex.DecodeString("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
	pub, _, err := ParsePublicKey([]byte(rfc))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, want) {
		t.Errorf("ParsePublicKey(RFC 8410 key) = %x, want %x", pub, want)
	}
	k := &Key{Public: ed25519.PublicKey(want)}
	if got := string(k.PublicPEM()); got != rfc {
		t.Errorf("PublicPEM() of the RFC 8410 key =\n%s\nwant\n%s", got, rfc)
	}
}

func TestParsePublicKeyNote(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	// As read from drill.pub: one line with its newline.
	pub, gotVkey, err := ParsePublicKey([]byte(vkey + "\n"))
	if err != nil {
		t.Fatalf("ParsePublicKey(%q): %v", vkey, err)
	}
	if !pub.Equal(k.Public) {
		t.Errorf("ParsePublicKey(note key) = %x, want %x", pub, k.Public)
	}
	if gotVkey != vkey {
		t.Errorf("ParsePublicKey(note key) verifier key = %q, want %q", gotVkey, vkey)
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	// One digit of the hash changed, as a bad copy would.
	i := strings.Index(vkey, "+") + 1
	damaged := vkey[:i] + map[bool]string{true: "1", false: "0"}[vkey[i] == '0'] + vkey[i+1:]
	pkix := func(key any) []byte {
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	edPEM := pkix(edPub)

	for _, tt := range []struct {
		name string
		text []byte
		want string
	}{
		{"empty", nil, "empty; want the public key as drill keys show prints it"},
		{"blank", []byte(" \n\t\n"), "empty; want the public key as drill keys show prints it"},
		{"garbage", []byte("hello, world"), "malformed verifier id; want the public key as drill keys show prints it on the host: a note verifier key (name+hash+base64"},
		{"RSA PEM", pkix(&rsaKey.PublicKey), "holds an RSA key, want an Ed25519 key"},
		{"X25519 PEM", pkix(x25519.PublicKey()), "holds an X25519 key, want an Ed25519 key"},
		{"private key PEM", privPEM, "this is a private key, which is never handed out"},
		{"EC private key PEM", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: privDER}), "this is a private key"},
		{"certificate PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), `PEM block is "CERTIFICATE", want "PUBLIC KEY"`},
		{"two PEM blocks", append(append([]byte{}, edPEM...), edPEM...), "more than one PEM block"},
		{"broken PEM", []byte("-----BEGIN PUBLIC KEY-----\nMCow\n"), "malformed PEM block"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("not DER")}), `PEM "PUBLIC KEY" block: `},
		{"note signer key", []byte(skey), "this is a private key, which is never handed out"},
		{"two note keys", []byte(vkey + "\n" + vkey), "more lines than a key"},
		{"a key ID alone", []byte("key id: " + strings.Repeat("0", 64)), "no key, only a key ID"},
		{"damaged note key", []byte(damaged), "invalid verifier hash"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub, vkey, err := ParsePublicKey(tt.text)
			if err == nil {
				t.Fatalf("ParsePublicKey(%q) = %x, %q, want error", tt.text, pub, vkey)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePublicKey(%q) error = %q, want it to contain %q", tt.text, err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE+KEY") || strings.Contains(err.Error(), "MC4CAQ") || strings.Contains(err.Error(), skey[len(skey)-20:]) {
				t.Errorf("ParsePublicKey error quotes a private key: %q", err)
			}
		})
	}
}
