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

// ParsePublicKey parses an Ed25519 public key given as a note verifier key
// "name+hash+base64" (the content of drill.pub), as a PEM "PUBLIC KEY"
// block (the output of PublicPEM), or as both with the key ID between them
// (the output of drill keys show), where all must be the same key.
// Surrounding white space is ignored, and so are the carriage returns of
// a key pasted from an email. It returns the raw public key and the
// verifier key (trimmed), or "" when only a PEM block is given, as a PEM
// key carries no key name. Its errors never quote the text: it may be a
// private key given by mistake.
func ParsePublicKey(text []byte) (ed25519.PublicKey, string, error) {
	text = bytes.TrimSpace(bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")))
	if len(text) == 0 {
		return nil, "", fmt.Errorf("parse public key: empty; %s", KeyForms)
	}
	if isPrivate(string(text)) {
		return nil, "", fmt.Errorf("parse public key: this is a private key, which is never handed out; %s", KeyForms)
	}
	note, pemText := text, []byte(nil)
	if i := bytes.Index(text, []byte("-----BEGIN ")); i >= 0 {
		note, pemText = bytes.TrimSpace(text[:i]), text[i:]
	}
	var pub ed25519.PublicKey
	if pemText != nil {
		var err error
		if pub, err = parsePublicPEM(pemText); err != nil {
			return nil, "", fmt.Errorf("parse public key: %w", err)
		}
	}
	// What stands before a PEM block (or alone): the note verifier key,
	// and the key ID line of drill keys show.
	var vkey, keyID string
	for line := range strings.Lines(string(note)) {
		line = strings.TrimSpace(line)
		switch id, isID := strings.CutPrefix(line, "key id:"); {
		case isID && keyID == "":
			keyID = strings.TrimSpace(id)
		case line != "" && vkey == "" && !isID:
			vkey = line
		case line != "":
			return nil, "", fmt.Errorf("parse public key: more lines than a key; %s", KeyForms)
		}
	}
	if vkey != "" {
		_, vpub, err := ParseVerifierKey(vkey)
		if err != nil {
			return nil, "", fmt.Errorf("parse public key: %w; %s", err, KeyForms)
		}
		if pub != nil && !pub.Equal(vpub) {
			return nil, "", errors.New("parse public key: the note verifier key and the PEM block are different keys; give one of them")
		}
		pub = vpub
	}
	if pub == nil {
		return nil, "", fmt.Errorf("parse public key: no key, only a key ID; %s", KeyForms)
	}
	if keyID != "" && keyID != (&Key{Public: pub}).KeyID() {
		return nil, "", errors.New("parse public key: the key ID is not the ID of the key beside it; give the key as drill keys show prints it")
	}
	return pub, vkey, nil
}

// KeyForms says what a public key given to drill looks like, for errors.
const KeyForms = "want the public key as drill keys show prints it on the host: a note verifier key (name+hash+base64, one line, as in drill.pub, " +
	"such as backup1.example.org/drill+1a2b3c4d+AbCd...=), a PEM \"PUBLIC KEY\" block, or both"

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
