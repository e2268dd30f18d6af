package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// pemPublicKey is the PEM block type of a PKIX (SubjectPublicKeyInfo)
// public key, as written by openssl pkey -pubout.
const pemPublicKey = "PUBLIC KEY"

// PublicPEM returns the public key as a PEM "PUBLIC KEY" block holding its
// PKIX (SubjectPublicKeyInfo, RFC 8410) encoding, the form that openssl and
// most other tools read. It never includes the private key.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		// Cannot happen: x509 supports every ed25519.PublicKey.
		panic(fmt.Sprintf("keys: encode Ed25519 public key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der})
}

// ParsePublicKey parses an Ed25519 public key given either as a note
// verifier key "name+hash+base64" (the content of drill.pub) or as a PEM
// "PUBLIC KEY" block (the output of PublicPEM). Surrounding white space is
// ignored. It returns the raw public key and, for the note form, the
// verifier key (trimmed); for the PEM form the verifier key is "", as a PEM
// key carries no key name.
func ParsePublicKey(text []byte) (ed25519.PublicKey, string, error) {
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0:
		return nil, "", errors.New("parse public key: empty; want a note verifier key (name+hash+base64, as in drill.pub) or a PEM \"PUBLIC KEY\" block")
	case bytes.HasPrefix(text, []byte("-----BEGIN ")):
		pub, err := parsePublicPEM(text)
		if err != nil {
			return nil, "", fmt.Errorf("parse public key: %w", err)
		}
		return pub, "", nil
	}
	vkey := string(text)
	_, pub, err := ParseVerifierKey(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("parse public key: want a note verifier key (name+hash+base64, as in drill.pub) or a PEM \"PUBLIC KEY\" block: %w", err)
	}
	return pub, vkey, nil
}

// parsePublicPEM parses text that must be exactly one PEM "PUBLIC KEY"
// block holding an Ed25519 key.
func parsePublicPEM(text []byte) (ed25519.PublicKey, error) {
	block, rest := pem.Decode(text)
	switch {
	case block == nil:
		return nil, errors.New("malformed PEM block; want a PEM \"PUBLIC KEY\" block")
	case block.Type != pemPublicKey:
		// Never quote the block: it may be a private key.
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("more than one PEM block or trailing data; want one PEM \"PUBLIC KEY\" block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PEM \"PUBLIC KEY\" block: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("PEM \"PUBLIC KEY\" block holds %s, want an Ed25519 key", algorithmName(key))
	}
	return pub, nil
}

// algorithmName names the algorithm of a public key from x509.
func algorithmName(key any) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an ECDSA key"
	case *ecdh.PublicKey:
		return "an X25519 key"
	}
	name := fmt.Sprintf("%T", key)
	return "a " + strings.TrimPrefix(name, "*") + " key"
}
